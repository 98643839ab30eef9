package rules

// checkFile checks the sections of a decoded file and compiles its rules
// into f. Sections are read in dependency order (interval, sources,
// metrics, then rules), whatever their order in the file.
func (p *parser) checkFile(f *File, d fileDoc) {
	p.timing(f, d)

	f.Sources = []*Source{hostSource(f.Interval)}
	if d.sources.given() && p.mappingOf(d.sources, "", true) {
		p.sources(f, d.sources.val)
	}
	known := make(map[string]bool) // metric names, valid or not, to avoid cascades
	if d.metrics.given() && p.mappingOf(d.metrics, "", true) {
		p.metrics(f, d.metrics.val, known)
	}

	c := p.newCompiler(f, known)
	def := &Service{Name: DefaultService, Pos: Pos{Line: 1, Col: 1}}
	f.Services = []*Service{def}
	if d.rules.given() {
		def.Pos = posOf(d.rules.key)
		p.ruleList(c, def, d.rules, "")
	} else {
		p.errAt(Pos{Line: 1, Col: 1}, "", "%s", noRulesKey)
	}
	if d.services.given() && p.mappingOf(d.services, "", true) {
		p.services(c, f, d.services.val)
	}

	if d.fleet.given() {
		p.fleet(f, d.fleet, d.services.key)
	}

	f.Reply = Reply{Default: DefaultReply(), MinWeight: DefaultMinWeight, RestoreFor: DefaultRestoreFor}
	if d.reply.given() && p.mappingOf(d.reply, "", true) {
		p.reply(&f.Reply, d.reply.val)
	}
}

// timing sets the file's interval and stale_after.
func (p *parser) timing(f *File, d fileDoc) {
	if d.interval.given() {
		if v, ok := p.duration(d.interval, ""); ok {
			if v <= 0 {
				p.errorf(d.interval.val, "", "interval must be greater than 0")
			} else {
				f.Interval = v
			}
		}
	}
	f.StaleAfter = DefaultStaleFactor * f.Interval
	if d.staleAfter.given() {
		if v, ok := p.duration(d.staleAfter, ""); ok {
			if v < f.Interval {
				p.errorf(d.staleAfter.val, "", "stale_after %s is shorter than interval %s", fmtDuration(v), fmtDuration(f.Interval))
			} else {
				f.StaleAfter = v
			}
		}
	}
}
