package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memSampler follows the memory of the web process and of each worker
// with its descendants (the sandbox children), from /proc, every 100ms.
type memSampler struct {
	web     *proc
	workers []*proc

	mu       sync.Mutex
	treePeak int64
	// rootPeak and childPeak are the largest sampled Pss of a worker
	// process alone and of any one of its descendants (a sandbox child).
	rootPeak, childPeak int64
	stopc               chan struct{}
	done                chan struct{}
}

func sampleMemory(web *proc, workers []*proc) *memSampler {
	m := &memSampler{web: web, workers: workers, stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, w := range workers {
				rss, root, child := treeRSS(w.cmd.Process.Pid)
				m.mu.Lock()
				m.treePeak = max(m.treePeak, rss)
				m.rootPeak = max(m.rootPeak, root)
				m.childPeak = max(m.childPeak, child)
				m.mu.Unlock()
			}
			select {
			case <-m.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

// stop returns the web process's peak RSS, the largest worker process's
// own peak RSS (the kernel's VmHWM: exact) and the largest sampled RSS of
// a worker with its children (sampled: a short spike between samples is
// missed).
func (m *memSampler) stop() (web, worker, tree int64) {
	close(m.stopc)
	<-m.done
	web = status(m.web.cmd.Process.Pid, "VmHWM")
	for _, w := range m.workers {
		worker = max(worker, status(w.cmd.Process.Pid, "VmHWM"))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return web, worker, m.treePeak
}

// parts returns the largest sampled Pss of a worker process alone and of
// any one of its descendants.
func (m *memSampler) parts() (root, child int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rootPeak, m.childPeak
}

// treeRSS is the resident memory of pid and all its descendants, counted
// as proportional set size (Pss), so the pages parent and children share
// (the same binary) are counted once, as the pod's memory cgroup does; and
// pid's own and its largest descendant's share of it.
func treeRSS(pid int) (total, root, child int64) {
	children := map[int][]int{}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		self, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		children[ppid] = append(children[ppid], self)
	}
	stack := []int{pid}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		v := pss(p)
		total += v
		if p == pid {
			root = v
		} else {
			child = max(child, v)
		}
		stack = append(stack, children[p]...)
	}
	return total, root, child
}

// pss is a process's proportional set size in bytes (its VmRSS when
// smaps_rollup cannot be read).
func pss(pid int) int64 {
	if v := kbField("/proc/"+strconv.Itoa(pid)+"/smaps_rollup", "Pss"); v > 0 {
		return v
	}
	return status(pid, "VmRSS")
}

// status reads a "kB" field of /proc/pid/status, in bytes.
func status(pid int, field string) int64 {
	return kbField("/proc/"+strconv.Itoa(pid)+"/status", field)
}

// kbField reads "field:   N kB" from a /proc file, in bytes.
func kbField(path, field string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
