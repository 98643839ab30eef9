package rules

// MaxYAMLSeparators caps the bytes of a rule file that can separate YAML
// nodes: commas, colons, dashes, question marks, opening brackets and
// braces, and line breaks. The YAML library builds the file's whole node
// tree, about 270 bytes per node at its peak, before the agent sees any
// of it, and a flow mapping such as {a,a,a,...} makes two nodes of every
// two bytes: 4 MiB of it took 811 MB and 7 s. A file has at most
// 2 × MaxYAMLSeparators + 2 nodes. A file of 10,000 rules in the mapping
// form over 10,000 metrics has about 150,000 separators.
const MaxYAMLSeparators = 500000

// yamlSeparators counts the bytes of data that may separate YAML nodes.
// Every node but the document and its root follows one of them, so the
// count bounds the nodes the YAML library builds: a flow collection's
// items follow commas or its opening bracket, a block sequence's items
// dashes, a mapping's values colons, its keys line breaks, commas, braces
// or question marks.
func yamlSeparators(data []byte) int {
	n := 0
	for _, c := range data {
		switch c {
		case ',', ':', '-', '?', '[', '{', '\n':
			n++
		}
	}
	return n
}
