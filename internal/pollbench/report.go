package pollbench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Latency summarises the latency of successful polls. In the closed loop
// it runs from connect to the end of the reply line; in the open loop from
// the poll's scheduled start.
type Latency struct {
	P50, P90, P99, P999, Max, Mean time.Duration
}

// Report is what one Run measured. Counts always add up: Polls is OK plus
// the sum of Errors.
type Report struct {
	// Name labels the target in reports; Run leaves it empty.
	Name string
	Addr string
	// Mode is "closed" or "open".
	Mode        string
	Concurrency int     // closed loop workers
	Rate        float64 // open loop polls/s asked for
	Workers     int     // open loop pool size

	Polls  int64
	OK     int64
	Errors map[Kind]int64 // every error kind, zeros included
	// Examples holds the first error message seen for each kind that
	// occurred.
	Examples map[Kind]string
	// Elapsed is the measured wall time (open loop: the scheduled span).
	Elapsed time.Duration
	// Throughput is successful polls per second of Elapsed.
	Throughput float64
	Latency    Latency
	// MaxLag is the longest an open-loop poll waited for a free worker
	// after its scheduled time; large values mean the generator (or the
	// machine) could not keep the schedule.
	MaxLag time.Duration
	// ClientCPU is the CPU time this process used during the measured
	// run (user+system); it includes in-process servers, if any.
	ClientCPU time.Duration
	// ServerCPU is the target process's CPU time during the run, children
	// included, when known (ServerCPUKnown).
	ServerCPU      time.Duration
	ServerCPUKnown bool
	// ServerRSS is the target process's highest resident memory (VmRSS)
	// sampled during the measured run, and ServerHWM its VmHWM at the end
	// (the peak since it started), in bytes, when known
	// (ServerMemoryKnown).
	ServerRSS, ServerHWM int64
	ServerMemoryKnown    bool
}

func newReport(cfg *Config, rec *recorder, elapsed, cpu time.Duration) Report {
	r := Report{
		Addr:      cfg.Addr,
		Mode:      "closed",
		Errors:    make(map[Kind]int64, numKinds-1),
		Examples:  map[Kind]string{},
		Elapsed:   elapsed,
		MaxLag:    time.Duration(rec.maxLag.Load()),
		ClientCPU: cpu,
	}
	if cfg.Rate > 0 {
		r.Mode, r.Rate, r.Workers = "open", cfg.Rate, cfg.openWorkers()
	} else {
		r.Concurrency = cfg.Concurrency
	}
	r.OK = rec.kinds[OK].Load()
	r.Polls = r.OK
	for _, k := range ErrorKinds() {
		n := rec.kinds[k].Load()
		r.Errors[k] = n
		r.Polls += n
		if m := rec.examples[k].Load(); m != nil {
			r.Examples[k] = *m
		}
	}
	if elapsed > 0 {
		r.Throughput = float64(r.OK) / elapsed.Seconds()
	}
	h := &rec.lat
	r.Latency = Latency{
		P50: h.quantile(0.5), P90: h.quantile(0.9), P99: h.quantile(0.99),
		P999: h.quantile(0.999), Max: time.Duration(h.max.Load()), Mean: h.mean(),
	}
	return r
}

// ErrorCount is the number of failed polls, all kinds together.
func (r *Report) ErrorCount() int64 { return r.Polls - r.OK }

// Ratio compares a target's report with the baseline's from the same run.
type Ratio struct {
	Name string
	// Throughput is target polls/s over baseline polls/s (higher is
	// better; the agent's goal is >= 0.95 in the closed loop).
	Throughput float64
	// P99 is target p99 over baseline p99 (lower is better; the agent's
	// goal is <= 1.1 in the open loop).
	P99 float64
	// CPUPerPoll is target server CPU per poll over the baseline's, when
	// both are known (0 otherwise).
	CPUPerPoll float64
}

// Compare returns r's ratios against base.
func Compare(r, base *Report) Ratio {
	q := Ratio{Name: r.Name}
	if base.Throughput > 0 {
		q.Throughput = r.Throughput / base.Throughput
	}
	if base.Latency.P99 > 0 {
		q.P99 = float64(r.Latency.P99) / float64(base.Latency.P99)
	}
	if r.ServerCPUKnown && base.ServerCPUKnown && r.OK > 0 && base.OK > 0 && base.ServerCPU > 0 {
		q.CPUPerPoll = (float64(r.ServerCPU) / float64(r.OK)) / (float64(base.ServerCPU) / float64(base.OK))
	}
	return q
}

func ms(d time.Duration) string {
	f := float64(d) / 1e6
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0fms", f)
	case f >= 10:
		return fmt.Sprintf("%.1fms", f)
	default:
		return fmt.Sprintf("%.3fms", f)
	}
}

// WriteText prints reports as a table, then errors by kind and, when
// baseline is not nil, each other report's ratios against it.
func WriteText(w io.Writer, reports []Report, baseline *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tmode\tpolls\terrors\tok/s\tp50\tp90\tp99\tp99.9\tmax\tclient cpu/poll\tserver cpu/poll\tserver rss/hwm\t")
	for i := range reports {
		r := &reports[i]
		mode := fmt.Sprintf("closed c=%d", r.Concurrency)
		if r.Mode == "open" {
			mode = fmt.Sprintf("open %g/s", r.Rate)
		}
		srv := "-"
		if r.ServerCPUKnown && r.OK > 0 {
			srv = perPoll(r.ServerCPU, r.OK)
		}
		cli := "-"
		if r.OK > 0 {
			cli = perPoll(r.ClientCPU, r.OK)
		}
		mem := "-"
		if r.ServerMemoryKnown {
			mem = fmt.Sprintf("%.1f/%.1fMB", mib(r.ServerRSS), mib(r.ServerHWM))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Name, mode, r.Polls, r.ErrorCount(), r.Throughput,
			ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.P999), ms(r.Latency.Max), cli, srv, mem)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i := range reports {
		r := &reports[i]
		if r.Mode == "open" && r.MaxLag > 10*time.Millisecond {
			fmt.Fprintf(w, "%s: generator fell behind schedule by up to %s (all workers busy or machine saturated)\n", r.Name, ms(r.MaxLag))
		}
		if r.ErrorCount() == 0 {
			continue
		}
		var parts []string
		for _, k := range ErrorKinds() {
			if n := r.Errors[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s=%d", k, n))
			}
		}
		fmt.Fprintf(w, "%s errors: %s\n", r.Name, strings.Join(parts, " "))
		for _, k := range ErrorKinds() {
			if m, ok := r.Examples[k]; ok {
				fmt.Fprintf(w, "  first %s: %s\n", k, m)
			}
		}
	}
	if baseline == nil {
		return nil
	}
	var lines []string
	for i := range reports {
		r := &reports[i]
		if r == baseline {
			continue
		}
		q := Compare(r, baseline)
		s := fmt.Sprintf("  %s / %s: throughput %.2f  p99 %.2f", r.Name, baseline.Name, q.Throughput, q.P99)
		if q.CPUPerPoll > 0 {
			s += fmt.Sprintf("  server cpu/poll %.2f", q.CPUPerPoll)
		}
		lines = append(lines, s)
	}
	if len(lines) > 0 {
		fmt.Fprintln(w, "ratios against the baseline of this run (throughput: higher is better; p99, cpu: lower is better):")
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
	return nil
}

// mib converts bytes to MiB, the unit of the RSS columns.
func mib(n int64) float64 { return float64(n) / (1 << 20) }

func perPoll(d time.Duration, n int64) string {
	return fmt.Sprintf("%.1fµs", float64(d)/float64(n)/1e3)
}

type jsonLatency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type jsonReport struct {
	Name           string            `json:"name"`
	Addr           string            `json:"addr"`
	Mode           string            `json:"mode"`
	Concurrency    int               `json:"concurrency,omitempty"`
	Rate           float64           `json:"rate,omitempty"`
	Workers        int               `json:"workers,omitempty"`
	Polls          int64             `json:"polls"`
	OK             int64             `json:"ok"`
	Errors         map[string]int64  `json:"errors"`
	Examples       map[string]string `json:"error_examples,omitempty"`
	ElapsedSeconds float64           `json:"elapsed_seconds"`
	PollsPerSecond float64           `json:"ok_per_second"`
	LatencyMS      jsonLatency       `json:"latency_ms"`
	MaxLagMS       float64           `json:"max_schedule_lag_ms,omitempty"`
	ClientCPUSec   float64           `json:"client_cpu_seconds"`
	ServerCPUSec   *float64          `json:"server_cpu_seconds,omitempty"`
	ServerCPUPoll  *float64          `json:"server_cpu_per_poll_us,omitempty"`
	ServerRSS      *int64            `json:"server_rss_bytes,omitempty"`
	ServerHWM      *int64            `json:"server_hwm_bytes,omitempty"`
}

type jsonRatio struct {
	Name       string   `json:"name"`
	Throughput float64  `json:"throughput"`
	P99        float64  `json:"p99"`
	CPUPerPoll *float64 `json:"server_cpu_per_poll,omitempty"`
}

type jsonOutput struct {
	Reports  []jsonReport `json:"reports"`
	Baseline string       `json:"baseline,omitempty"`
	Ratios   []jsonRatio  `json:"ratios,omitempty"`
}

// WriteJSON prints reports (and ratios against baseline, if not nil) as
// one JSON object. Latencies are in milliseconds, CPU in seconds.
func WriteJSON(w io.Writer, reports []Report, baseline *Report) error {
	out := jsonOutput{Reports: []jsonReport{}}
	msf := func(d time.Duration) float64 { return float64(d) / 1e6 }
	for i := range reports {
		r := &reports[i]
		j := jsonReport{
			Name: r.Name, Addr: r.Addr, Mode: r.Mode, Concurrency: r.Concurrency, Rate: r.Rate, Workers: r.Workers,
			Polls: r.Polls, OK: r.OK, Errors: map[string]int64{}, Examples: map[string]string{},
			ElapsedSeconds: r.Elapsed.Seconds(), PollsPerSecond: r.Throughput,
			LatencyMS: jsonLatency{
				P50: msf(r.Latency.P50), P90: msf(r.Latency.P90), P99: msf(r.Latency.P99),
				P999: msf(r.Latency.P999), Max: msf(r.Latency.Max), Mean: msf(r.Latency.Mean),
			},
			MaxLagMS:     msf(r.MaxLag),
			ClientCPUSec: r.ClientCPU.Seconds(),
		}
		for _, k := range ErrorKinds() {
			j.Errors[k.String()] = r.Errors[k]
			if m, ok := r.Examples[k]; ok {
				j.Examples[k.String()] = m
			}
		}
		if r.ServerCPUKnown {
			s := r.ServerCPU.Seconds()
			j.ServerCPUSec = &s
			if r.OK > 0 {
				us := float64(r.ServerCPU) / float64(r.OK) / 1e3
				j.ServerCPUPoll = &us
			}
		}
		if r.ServerMemoryKnown {
			j.ServerRSS, j.ServerHWM = &r.ServerRSS, &r.ServerHWM
		}
		out.Reports = append(out.Reports, j)
	}
	if baseline != nil {
		out.Baseline = baseline.Name
		for i := range reports {
			if &reports[i] == baseline {
				continue
			}
			q := Compare(&reports[i], baseline)
			jr := jsonRatio{Name: q.Name, Throughput: q.Throughput, P99: q.P99}
			if q.CPUPerPoll > 0 {
				jr.CPUPerPoll = &q.CPUPerPoll
			}
			out.Ratios = append(out.Ratios, jr)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
