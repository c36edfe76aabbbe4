package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one `mdegate NAME`: the commands table in main.go lists them.
type command struct {
	// name is what follows mdegate on the command line.
	name string
	// synopsis follows "mdegate NAME" in the usage line: the flags worth naming. Empty: none.
	synopsis string
	// summary says in one line what the command does, in the command list and its -h.
	summary string
	// flags declares the command's flags on fs and returns what runs the command once fs has
	// parsed the command line. The returned function may return usagef(...) for a command line
	// the flags alone cannot refuse (a required flag left out); it prints anything else it
	// has to say itself, returning errReported, or returns an error for main to print.
	flags func(fs *flag.FlagSet, c cli) func(ctx context.Context) error
}

// cli is where a command prints.
type cli struct {
	stdout, stderr io.Writer
}

// errReported means the command already told the user what went wrong; exit 1 quietly.
var errReported = errors.New("reported")

// usageError is a command line that cannot run: an unknown command or flag, a flag without its
// value, a stray argument, a required flag left out. main exits 2 for it, as Go's flag package
// does; run has printed the message and the command's usage by then.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef is the usageError a command returns for a command line its flags accept but it
// cannot run.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode is the process's exit status for what run returned: 0, 1 when the command failed
// (printing err unless the command already said what went wrong) or 2 for a usage error.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case !errors.Is(err, errReported):
		fmt.Fprintln(stderr, "mdegate:", err)
	}
	return 1
}

// run is the whole program; main only adds the process around it, so tests drive the real CLI.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := cli{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		printCommands(stderr)
		return &usageError{msg: "no command"}
	}
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) == 0 {
			printCommands(stdout)
			return nil
		}
		cmd, ok := lookup(args[0])
		if !ok || len(args) > 1 {
			fmt.Fprintf(stderr, "mdegate help: no command %q\n\n", strings.Join(args, " "))
			printCommands(stderr)
			return &usageError{msg: "unknown command"}
		}
		fs, _ := cmd.flagSet(c)
		cmd.printUsage(stdout, fs)
		return nil
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "mdegate: unknown command %q\n\n", name)
		printCommands(stderr)
		return &usageError{msg: "unknown command"}
	}
	return cmd.run(ctx, c, args)
}

func lookup(name string) (command, bool) {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd, true
		}
	}
	return command{}, false
}

// flagSet is the command's own flag set, with the command's flags declared; fs.Parse
// prints nothing (run does).
func (cmd command) flagSet(c cli) (*flag.FlagSet, func(context.Context) error) {
	fs := flag.NewFlagSet("mdegate "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs, cmd.flags(fs, c)
}

// run parses args with the command's flags and runs it. -h prints the usage on stdout; a
// usage error prints it on stderr, after what was wrong.
func (cmd command) run(ctx context.Context, c cli, args []string) error {
	fs, runCmd := cmd.flagSet(c)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		cmd.printUsage(c.stdout, fs)
		return nil
	case err != nil:
		err = &usageError{msg: err.Error()}
	case fs.NArg() > 0:
		err = usagef("unexpected argument %q", fs.Arg(0))
	default:
		err = runCmd(ctx)
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "mdegate %s: %s\n\n", cmd.name, ue.msg)
		cmd.printUsage(c.stderr, fs)
	}
	return err
}

// printUsage prints the command's usage line, summary and flags.
func (cmd command) printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: mdegate %s\n\n%s\n", strings.TrimSpace(cmd.name+" "+cmd.synopsis), cmd.summary)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// printCommands prints the list of commands.
func printCommands(w io.Writer) {
	fmt.Fprint(w, "usage: mdegate <command> [flags]\n\ncommands:\n")
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, `
mdegate help COMMAND (or mdegate COMMAND -h) lists the command's flags.
$MDEGATE_CONFIG is the default of every -config (else mdegate.yaml).
Exit status: 0 success, 1 the command failed, 2 a wrong command line.
`)
}

// configFlag declares -config, whose default is $MDEGATE_CONFIG, else mdegate.yaml.
func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("MDEGATE_CONFIG")
	if def == "" {
		def = "mdegate.yaml"
	}
	return fs.String("config", def, "configuration `file` ($MDEGATE_CONFIG sets the default)")
}
