// Package replica lets several agents answering for one fleet act as one,
// through etcd (v3 API).
//
// A group is the replicas that share an etcd key prefix. They share two
// things:
//
//   - Overrides, one key each under PREFIX/overrides/, held by a lease of
//     the override's TTL so that etcd itself expires them. Every replica
//     watches the prefix and hands the whole set to its local override
//     store.
//   - The out-set: the fleet servers the guardrail lets out of rotation
//     because of the rules. One replica at a time is the leader (an etcd
//     election); it publishes the out-set at PREFIX/outset. Every replica
//     lets a server out only if the latest out-set it read names it. The
//     leader adds a server to the set only once every live replica has
//     acknowledged the latest set (PREFIX/replicas/ID), so that no replica
//     still answering by an older set can hold a server out that the
//     leader has since released: a freed place is reused only after
//     everyone has seen it freed.
//
// Nothing on the poll path or in the evaluation loop waits for etcd: the
// loop reads a Gate (an immutable snapshot) and hands its wishes to
// Publish, which never blocks. A replica cut off from etcd is fail-static:
// it keeps the last out-set and overrides it read and lets no further
// server out until it is back.
package replica
