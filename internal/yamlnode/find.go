package yamlnode

import "go.yaml.in/yaml/v3"

// maxAliasHops bounds how many aliases Deref follows, so that a cycle
// cannot hang it.
const maxAliasHops = 64

// Deref follows aliases to the node they name.
func Deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasHops; i++ {
		n = n.Alias
	}
	return n
}

// Find returns the key node and the (dereferenced) value of the first
// entry named key in mapping n, or nil and nil when n is not a mapping or
// has no such key. Aliases are followed, n's included.
func Find(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if c := n.Content[i]; c.Kind == yaml.ScalarNode && c.Value == key {
			return c, Deref(n.Content[i+1])
		}
	}
	return nil, nil
}
