package yamlnode

import "go.yaml.in/yaml/v3"

// Size measures n as a walk that follows aliases meets it: each node
// counts 1, and a scalar also the bytes of its value (what parsing it may
// cost); an alias counts as everything it names, each time it is used. A
// file without aliases measures at most about twice its size. Counting
// takes time in the size of the file, not of the expansion: the size of
// every collection is remembered. ok is false once the count passes limit,
// or when an alias names a node that holds it (then a walk would never
// end); size is then past limit.
func Size(n *yaml.Node, limit int) (size int, ok bool) {
	c := sizer{memo: map[*yaml.Node]int{}, limit: limit}
	size = c.size(n)
	return size, size <= limit
}

type sizer struct {
	memo  map[*yaml.Node]int // collections counted; -1 while being counted
	limit int
}

func (c *sizer) size(n *yaml.Node) int {
	switch {
	case n == nil:
		return 0
	case n.Kind == yaml.AliasNode:
		return c.size(n.Alias)
	case len(n.Content) == 0:
		return 1 + len(n.Value)
	}
	if s, seen := c.memo[n]; seen {
		if s < 0 {
			return c.limit + 1 // a node that holds itself
		}
		return s
	}
	c.memo[n] = -1
	s := 1
	for _, child := range n.Content {
		s += c.size(child)
		if s > c.limit {
			s = c.limit + 1
			break
		}
	}
	c.memo[n] = s
	return s
}
