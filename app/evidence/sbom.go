package evidence

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/gatehouse/gatehouse/checks"
)

// maxSBOM bounds an SBOM read back from the store (uncompressed), so a
// corrupted row cannot make gunzip fill memory.
const maxSBOM = 256 << 20

// sbomOf finds the dependencies check's SBOM, describes it and returns it
// gzipped. A document that is not CycloneDX JSON is described with the
// reason and not stored. No SBOM gives nil, nil.
func sbomOf(results []*checks.Result) (*SBOM, []byte, error) {
	res := findResult(results, checks.Dependencies)
	if res == nil || len(res.SBOM) == 0 {
		return nil, nil, nil
	}
	doc := res.SBOM
	info, err := inspectSBOM(doc)
	if err != nil {
		return &SBOM{Bytes: len(doc), Error: err.Error()}, nil, nil
	}
	gz, err := gzipBytes(doc)
	if err != nil {
		return nil, nil, err
	}
	return info, gz, nil
}

// inspectSBOM decodes a CycloneDX JSON document with the CycloneDX
// library and describes it.
func inspectSBOM(doc []byte) (*SBOM, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(doc), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, fmt.Errorf("not CycloneDX JSON: %w", err)
	}
	if bom.BOMFormat != cdx.BOMFormat {
		return nil, fmt.Errorf("not CycloneDX JSON: bomFormat is %q", bom.BOMFormat)
	}
	return &SBOM{
		Format: bom.BOMFormat, SpecVersion: bom.SpecVersion.String(), Components: countComponents(bom.Components),
		Bytes: len(doc), SHA256: sha256Hex(doc),
	}, nil
}

func countComponents(cs *[]cdx.Component) int {
	if cs == nil {
		return 0
	}
	n := 0
	for _, c := range *cs {
		n += 1 + countComponents(c.Components)
	}
	return n
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("compress SBOM: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress SBOM: %w", err)
	}
	return buf.Bytes(), nil
}

func gunzip(gz []byte) ([]byte, error) { return gunzipMax(gz, maxSBOM, "SBOM") }

// gunzipMax decompresses at most max bytes of what (an SBOM, an envelope).
func gunzipMax(gz []byte, max int, what string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", what, err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", what, err)
	}
	if len(b) > max {
		return nil, fmt.Errorf("decompress %s: larger than %d bytes", what, max)
	}
	return b, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
