package rules

// KindExec is a command run once per cycle, without a shell, whose
// standard output is the Prometheus text format or one number.
const KindExec SourceKind = "exec"

// DefaultExecOutputLimit bounds what is read of a command's output: past
// it, the process group is killed and the read fails.
const DefaultExecOutputLimit = 1 << 20

// The series every command yields besides its output's.
const (
	ExecExitCode = "exit_code"
	ExecDuration = "duration_seconds"
	// ExecValue is the series of an output that is one number.
	ExecValue = "value"
)

// ExecCommand is the configuration of an exec source beside what every
// source has (Timeout).
type ExecCommand struct {
	// Argv is the program and its arguments; no shell reads them.
	Argv []string
	// Env holds NAME=VALUE pairs added to the agent's environment.
	Env []string
	// Dir is the working directory, absolute: the rule file's directory
	// unless the file says otherwise. A relative program is taken from it.
	Dir string
}
