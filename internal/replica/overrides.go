package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/override"
)

// PutOverride writes o to etcd under a lease that ends when it expires
// (none for an override without an end), so that etcd removes it on every
// replica at once. Every replica, this one included, applies it when its
// watch reads it.
func (g *Group) PutOverride(ctx context.Context, o evaluator.Override) error {
	b, err := json.Marshal(override.NewRecord(o))
	if err != nil {
		return err
	}
	var opts []clientv3.OpOption
	if !o.Expires.IsZero() {
		ttl := int64(math.Ceil(time.Until(o.Expires).Seconds()))
		lease, err := g.cli.Grant(ctx, max(ttl, 1))
		if err != nil {
			return fmt.Errorf("etcd lease for the override: %w", err)
		}
		opts = append(opts, clientv3.WithLease(lease.ID))
	}
	if _, err := g.cli.Put(ctx, g.o.Prefix+"overrides/"+o.ID, string(b), opts...); err != nil {
		return fmt.Errorf("etcd: write override: %w", err)
	}
	return nil
}

// DeleteOverride removes the override with that ID from etcd.
func (g *Group) DeleteOverride(ctx context.Context, id string) error {
	if _, err := g.cli.Delete(ctx, g.o.Prefix+"overrides/"+id); err != nil {
		return fmt.Errorf("etcd: delete override: %w", err)
	}
	return nil
}

// DeleteOverrides removes every override from etcd.
func (g *Group) DeleteOverrides(ctx context.Context) error {
	if _, err := g.cli.Delete(ctx, g.o.Prefix+"overrides/", clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("etcd: clear overrides: %w", err)
	}
	return nil
}
