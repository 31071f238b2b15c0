package main

import (
	"strings"
	"testing"
	"time"
)

func TestOutputIsBoundedAndFirstLineIsReported(t *testing.T) {
	res := runProgram([]string{"/bin/sh", "-c", "echo; echo '  first line  '; yes second | head -c 3000000; exit 1"}, 5*time.Second)
	if len(res.output) != keptOutput {
		t.Errorf("kept %d bytes, want %d", len(res.output), keptOutput)
	}
	if !strings.HasSuffix(res.describe(), ": exit status 1: first line") {
		t.Errorf("describe: %q", res.describe())
	}
}

func TestProgramIsKilledAtTheTimeoutWithWhatItStarted(t *testing.T) {
	start := time.Now()
	res := runProgram([]string{"/bin/sh", "-c", "sleep 60 & sleep 60"}, 300*time.Millisecond)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if !res.timedOut || !strings.HasSuffix(res.describe(), ": killed after 300ms") {
		t.Errorf("describe: %q", res.describe())
	}
}
