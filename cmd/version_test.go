package cmd

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "(devel)"},
		{"go install of a release", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0"},
		{"go build of a clone, Go 1.24+",
			&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261130094507-2847ea2713e8+dirty"}},
			"v0.0.0-20261130094507-2847ea2713e8+dirty"},
		{"a clone without a module version",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(
				"vcs", "git", "vcs.revision", "2847ea2713e8e98ebd7f4a9a848f2c75d0b90372",
				"vcs.time", "2026-11-30T09:45:07Z", "vcs.modified", "false")},
			"devel-2847ea2713e8 (2026-11-30T09:45:07Z)"},
		{"a clone with changes",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(
				"vcs.revision", "2847ea2713e8e98ebd7f4a9a848f2c75d0b90372", "vcs.modified", "true")},
			"devel-2847ea2713e8+dirty"},
		{"go run", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
	} {
		if got := versionOf(tc.info); got != tc.want {
			t.Errorf("%s: versionOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}
