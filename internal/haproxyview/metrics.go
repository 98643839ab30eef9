package haproxyview

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descUp = prometheus.NewDesc("haproxy_agent_haproxy_up",
		"Whether the last read of this HAProxy's Runtime API succeeded.", []string{"haproxy"}, nil)
	descDrift = prometheus.NewDesc("haproxy_agent_drift",
		"1 when HAProxy has held another state than the agent's reply for longer than 2 × agent-inter.", []string{"haproxy", "proxy", "server"}, nil)
	descWeight = prometheus.NewDesc("haproxy_agent_haproxy_server_weight",
		"The server's current weight as HAProxy shows it.", []string{"haproxy", "proxy", "server"}, nil)
	descStatus = prometheus.NewDesc("haproxy_agent_haproxy_server_status",
		"The server's status as HAProxy shows it (UP, DOWN, DRAIN, MAINT...): 1 for the current one.", []string{"haproxy", "proxy", "server", "status"}, nil)
)

// Describe implements prometheus.Collector.
func (v *View) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descDrift, descWeight, descStatus} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: per HAProxy whether it was
// read, per server of the agent its drift, weight and status.
func (v *View) Collect(ch chan<- prometheus.Metric) {
	for _, h := range v.Status() {
		up := 0.0
		if h.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, h.Address)
		for _, s := range h.Servers {
			drift := 0.0
			if s.Drift {
				drift = 1
			}
			ch <- prometheus.MustNewConstMetric(descDrift, prometheus.GaugeValue, drift, h.Address, s.Proxy, s.Server.Server)
			ch <- prometheus.MustNewConstMetric(descWeight, prometheus.GaugeValue, float64(s.Weight), h.Address, s.Proxy, s.Server.Server)
			ch <- prometheus.MustNewConstMetric(descStatus, prometheus.GaugeValue, 1, h.Address, s.Proxy, s.Server.Server, s.state())
		}
	}
}
