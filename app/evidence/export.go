package evidence

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse/gatehouse/app/store"
)

// exportBatch is how many records Export reads at a time.
const exportBatch = 500

// ExportFilter selects the records Export writes. Empty fields do not
// filter.
type ExportFilter struct {
	Repo  string
	Since time.Time
}

// Export writes the records f selects as JSON lines, oldest first, each an
// Envelope: {"hash": …, "record": {…}} with the record's exact bytes, so
// whoever reads the export can check every hash and link without
// gatehouse. It returns how many records it wrote.
func (r *Recorder) Export(ctx context.Context, w io.Writer, f ExportFilter) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // keep the record's bytes as hashed
	n := 0
	var after int64
	for {
		rows, err := r.st.ListEvidence(ctx, store.EvidenceFilter{Repo: f.Repo, Since: f.Since, After: after, Ascending: true, Limit: exportBatch})
		if err != nil {
			return n, err
		}
		for _, e := range rows {
			if err := enc.Encode(Envelope{Hash: e.Hash, Record: e.Record}); err != nil {
				return n, fmt.Errorf("export evidence: %w", err)
			}
			n++
			after = e.Pos
		}
		if len(rows) < exportBatch {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export evidence: %w", err)
	}
	return n, nil
}
