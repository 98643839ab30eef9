package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/haproxy-agent/agent/internal/haproxyapi"
	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// haproxyStat reads a haproxy source: `show stat` once per Read, each
// numeric column a series named after it, labelled proxy and server
// (pxname and svname), and up (1 for a status of UP, or "no check": a
// server without health check; 0 for DOWN, DRAIN, MAINT and the rest).
type haproxyStat struct {
	client  *haproxyapi.Client
	timeout time.Duration
	fams    map[string][]series
	sel     seriesSelector
	now     func() time.Time
}

func newHAProxyStat(src *rules.Source) (*haproxyStat, error) {
	cfg, ok := src.Config.(*rules.HAProxyConfig)
	switch {
	case !ok:
		return nil, fmt.Errorf("not a haproxy source: %T", src.Config)
	case src.Timeout <= 0:
		return nil, fmt.Errorf("timeout %s: must be greater than 0", src.Timeout)
	}
	c, err := haproxyapi.New(cfg.Address)
	if err != nil {
		return nil, err
	}
	c.Timeout = src.Timeout
	return &haproxyStat{client: c, timeout: src.Timeout, fams: map[string][]series{}, now: time.Now}, nil
}

// Read runs show stat once and selects every metric from it; in fleet
// mode (a metric's ByLabel) each server gets its own value too.
func (h *haproxyStat) Read(ctx context.Context, metrics []*rules.Metric) ([]sample.Reading, error) {
	ctx, cancel := boundedContext(ctx, h.timeout)
	defer cancel()
	st, err := h.client.ShowStat(ctx)
	if err != nil {
		return nil, describe(ctx, h.timeout, err)
	}
	t := h.now()
	h.series(st, wantedNames(metrics))
	out := h.sel.all(h.fams, metrics, t, nil)
	for i, m := range metrics {
		if m.ByLabel != "" {
			out[i].ByLabel = byLabelSeries(h.fams, m)
		}
	}
	return out, nil
}

// Close does nothing: the client holds no connection between reads.
func (h *haproxyStat) Close() error { return nil }

// wantedNames are the series names the metrics select by equality; nil
// when one selects otherwise (every column is then built).
func wantedNames(metrics []*rules.Metric) map[string]bool {
	want := map[string]bool{}
	for _, m := range metrics {
		name, ok := equalName(m)
		if !ok {
			return nil
		}
		want[name] = true
	}
	return want
}

// series turns show stat into h.fams: per wanted column, one series per
// row whose value is a number.
func (h *haproxyStat) series(st *haproxyapi.Table, want map[string]bool) {
	clear(h.fams)
	px, sv, status := st.Col("pxname"), st.Col("svname"), st.Col("status")
	for i, name := range st.Columns {
		if name == "" || i == px || i == sv || want != nil && !want[name] {
			continue
		}
		for _, row := range st.Rows {
			if i >= len(row) || row[i] == "" {
				continue
			}
			v, err := strconv.ParseFloat(row[i], 64)
			if err != nil {
				continue // text: status, check_status, addr...
			}
			h.fams[name] = append(h.fams[name], series{lset: rowLabels(name, row, px, sv), v: v})
		}
	}
	if want == nil || want[rules.HAProxyUp] {
		ups := h.fams[rules.HAProxyUp][:0]
		for _, row := range st.Rows {
			up := 0.0
			// "no check" is a server without health check: in rotation.
			if status >= 0 && status < len(row) && (strings.HasPrefix(row[status], "UP") || row[status] == "no check") {
				up = 1
			}
			ups = append(ups, series{lset: rowLabels(rules.HAProxyUp, row, px, sv), v: up})
		}
		h.fams[rules.HAProxyUp] = ups
	}
}

func rowLabels(name string, row []string, px, sv int) labels.Labels {
	at := func(i int) string {
		if i >= 0 && i < len(row) {
			return row[i]
		}
		return ""
	}
	return labels.FromStrings("__name__", name, "proxy", at(px), rules.HAProxyLabel, at(sv))
}

// errSeveral is a server's value when its series are several and the
// metric has no aggregate.
var errSeveral = errors.New("several series for this server; set aggregate")

// byLabelSeries groups the series m selects by its ByLabel label and
// reduces each group with m's aggregate: each fleet server's own value.
func byLabelSeries(fams map[string][]series, m *rules.Metric) map[string]sample.Labeled {
	groups := map[string][]float64{}
	add := func(f []series) {
		for i := range f {
			if matches(m, f[i].lset) {
				lv := f[i].lset.Get(m.ByLabel)
				groups[lv] = append(groups[lv], f[i].v)
			}
		}
	}
	if name, ok := equalName(m); ok {
		add(fams[name])
	} else {
		for _, f := range fams {
			add(f)
		}
	}
	out := make(map[string]sample.Labeled, len(groups))
	for lv, vals := range groups {
		if len(vals) > 1 && m.Aggregate == rules.AggNone {
			out[lv] = sample.Labeled{Err: errSeveral}
			continue
		}
		v, err := reduce(vals, m.Aggregate, "series matched")
		out[lv] = sample.Labeled{Value: v, Err: err}
	}
	return out
}
