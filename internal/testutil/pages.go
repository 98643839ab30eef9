package testutil

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// Page10k returns a 10,000-series exporter page in the Prometheus text
// format, the shape of a busy application's /metrics: 100 counter families
// of 100 series, HELP and TYPE lines included. Family f is named
// <prefix>_<f>_total; its series s carries the labels instance="web-1",
// path="/api/v1/item/<s>" and code="<200+s%5*100>", and the value f*100+s.
// help is the HELP text of every family, each "%d" in it replaced by the
// family number.
//
// The benchmarks whose figures docs/benchmarks.md reports read this page:
// changing its bytes changes those figures.
func Page10k(prefix, help string) []byte {
	var b bytes.Buffer
	for f := 0; f < 100; f++ {
		fam := prefix + "_" + strconv.Itoa(f) + "_total"
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", fam, strings.ReplaceAll(help, "%d", strconv.Itoa(f)), fam)
		for s := 0; s < 100; s++ {
			fmt.Fprintf(&b, "%s{instance=\"web-1\",path=\"/api/v1/item/%d\",code=\"%d\"} %d\n",
				fam, s, 200+s%5*100, f*100+s)
		}
	}
	return b.Bytes()
}

// ServePage serves page at every path of an HTTP server on 127.0.0.1, as
// an exporter serves its /metrics in the Prometheus text format, and
// returns the server's URL. The server stops when the test ends.
func ServePage(t testing.TB, page []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(page)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
