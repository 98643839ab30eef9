package main

import (
	"runtime/debug"
	"time"

	"github.com/prometheus/common/version"
)

// develVersion names a build that carries no version at all.
const develVersion = "devel"

// setVersion fills in what the linker did not set (-ldflags -X, as release
// builds do) from the build information Go records: the module version, or
// else the VCS revision and time, or else "devel". `agent version` and the
// haproxy_agent_build_info metric then never show an empty version.
func setVersion() {
	if version.Version != "" {
		return
	}
	bi, _ := debug.ReadBuildInfo()
	version.Version, version.BuildDate = buildVersion(bi)
	if version.Revision == "" && bi != nil {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				version.Revision = s.Value
			}
		}
	}
}

// buildVersion returns the version to show for the build bi (nil when Go
// recorded none) and, when known, the commit time as the build date.
func buildVersion(bi *debug.BuildInfo) (v, date string) {
	if bi == nil {
		return develVersion, version.BuildDate
	}
	var rev, at string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	date = version.BuildDate
	if date == "" {
		date = at
	}
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
		return mv, date
	}
	if rev == "" {
		return develVersion, date
	}
	// The form of a Go pseudo-version: what `go install` of this commit
	// would have recorded as the module version.
	v = "v0.0.0-"
	if t, err := time.Parse(time.RFC3339, at); err == nil {
		v += t.UTC().Format("20060102150405") + "-"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v += rev
	if modified {
		v += "+dirty"
	}
	return v, date
}
