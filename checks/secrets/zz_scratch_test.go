package secrets
import ("testing";"fmt";"time";"context";"runtime";"errors";"math/rand/v2";"github.com/gatehouse/gatehouse/checks";"github.com/gatehouse/gatehouse/internal/gittest")
func TestScratch(t *testing.T){
	r := rand.New(rand.NewPCG(3, 4)); dir := gittest.New(t)
	for i := range 40 { gittest.Commit(t, dir, fmt.Sprintf("c%d", i), map[string]string{fmt.Sprintf("f%02d.go", i): generatedFile(r, i, i%10 == 0)}) }
	s := newScanner(t, Options{})
	base := runtime.NumGoroutine()
	outcomes := map[string]int{}
	for i := 0; i < 60; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*8*time.Millisecond)
		res, err := s.Run(ctx, checks.Target{Dir: dir, HeadRev: "HEAD"})
		cancel()
		switch {
		case err == nil: if len(res.Findings) != 4 { t.Errorf("partial success %d", len(res.Findings)) }; outcomes["ok"]++
		case errors.Is(err, context.DeadlineExceeded): outcomes["deadline"]++
		default: outcomes[err.Error()]++
		}
	}
	time.Sleep(200*time.Millisecond)
	t.Log(outcomes, "goroutines", base, runtime.NumGoroutine())
}
