package app

import (
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/replica"
)

// groupStartWait bounds how long a starting replica waits for etcd before
// its first evaluation.
const groupStartWait = 3 * time.Second

// joinGroup makes the agent a replica of the etcd group o.Etcd names:
// overrides are written to etcd and come back from it, and the fleet
// guardrail lets servers out only as the group's out-set allows. Nothing
// here waits for etcd.
func (a *agent) joinGroup(store *override.Store, pollAddr net.Addr) (*replica.Group, error) {
	eo := a.o.Etcd
	if eo.ID == "" {
		host, _ := os.Hostname()
		eo.ID = host + "/" + pollAddr.String()
	}
	log := a.log.With("component", "etcd")
	eo.Logger = log
	eo.OnOverrides = func(ovs []evaluator.Override) {
		if err := store.Replace(ovs); err != nil {
			log.Error("cannot apply the overrides read from etcd", "err", err)
		}
	}
	eo.OnChange = func() {
		select {
		case a.groupChanged <- struct{}{}:
		default:
		}
	}
	g, err := replica.Start(eo)
	if err != nil {
		return nil, err
	}
	store.Share(g)
	a.group = g
	// After the poll table: the acknowledgement says the replies follow
	// the gate.
	a.publishers = append(a.publishers, groupPublisher{a})
	log.Info("joining the replica group through etcd", "endpoints", eo.Endpoints, "prefix", eo.Prefix, "replica", eo.ID, "lease_ttl", eo.LeaseTTL)
	return g, nil
}

// gate gives the evaluator the group's latest gate and returns it; nil
// without a group.
func (a *agent) gate() *replica.Gate {
	if a.group == nil {
		return nil
	}
	// A freed place is reused only after HAProxy has had time to poll
	// the server released: twice the interval.
	a.group.SetSettle(2 * a.current().file.Interval)
	g := a.group.Gate()
	a.eval.SetGate(g)
	return g
}

// groupPublisher hands each evaluation to the group.
type groupPublisher struct{ a *agent }

func (p groupPublisher) Publish(res *evaluator.Result) { p.a.publishOutSet(res, p.a.lastGate) }

// publishOutSet hands the group the servers the rules hold out after an
// evaluation: the leader publishes them as the out-set.
//
// It then acknowledges gate: the replies just published follow it.
func (a *agent) publishOutSet(res *evaluator.Result, gate *replica.Gate) {
	if a.group == nil {
		return
	}
	if res.Guardrail != nil {
		var out []string
		for _, d := range res.Servers {
			if d.RulesOut() {
				out = append(out, d.Server)
			}
		}
		a.group.Publish(out)
	}
	a.group.Applied(gate)
}

// registerGroupMetrics exports the group's state.
func registerGroupMetrics(reg prometheus.Registerer, g *replica.Group) {
	reg.MustRegister(groupCollector{g})
}

// The replica group's series, read from one Group.Status per scrape.
var (
	etcdUpDesc = prometheus.NewDesc("haproxy_agent_etcd_up",
		"Whether the agent reads the replica group's state from etcd (0: fail-static, no further server let out).", nil, nil)
	etcdLeaderDesc = prometheus.NewDesc("haproxy_agent_etcd_leader",
		"Whether this replica leads the group: it decides the fleet's out-set.", nil, nil)
	etcdReplicasDesc = prometheus.NewDesc("haproxy_agent_etcd_replicas",
		"Live replicas of the group, as this replica last read them.", nil, nil)
	etcdRevisionDesc = prometheus.NewDesc("haproxy_agent_etcd_out_set_revision",
		"etcd revision of the latest out-set read.", nil, nil)
	etcdPublishedDesc = prometheus.NewDesc("haproxy_agent_etcd_out_set_timestamp_seconds",
		"When the leader published the latest out-set read (Unix seconds; 0 before any).", nil, nil)
)

// groupCollector exports a replica group's state: one consistent reading
// of it per scrape, taken under the group's lock once.
type groupCollector struct{ g *replica.Group }

func (c groupCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{etcdUpDesc, etcdLeaderDesc, etcdReplicasDesc, etcdRevisionDesc, etcdPublishedDesc} {
		ch <- d
	}
}

func (c groupCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.g.Status()
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	published := 0.0
	if !st.PublishedAt.IsZero() {
		published = float64(st.PublishedAt.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(etcdUpDesc, prometheus.GaugeValue, b2f(st.Up))
	ch <- prometheus.MustNewConstMetric(etcdLeaderDesc, prometheus.GaugeValue, b2f(st.IsLeader))
	ch <- prometheus.MustNewConstMetric(etcdReplicasDesc, prometheus.GaugeValue, float64(len(st.Replicas)))
	ch <- prometheus.MustNewConstMetric(etcdRevisionDesc, prometheus.GaugeValue, float64(st.Revision))
	ch <- prometheus.MustNewConstMetric(etcdPublishedDesc, prometheus.GaugeValue, published)
}
