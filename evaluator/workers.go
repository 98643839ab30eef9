package evaluator

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr/vm"
)

// chunk is the fewest fleet servers a worker takes at a time: enough that
// handing them out costs nothing next to evaluating them. A large fleet is
// cut into at most chunksPerProc runs per goroutine, so that the workers
// finish together even when one is slowed, and the runs' own allocations
// stay few and large.
const (
	chunk         = 256
	chunksPerProc = 4
)

// worker is what one goroutine evaluating fleet servers owns: an
// expression machine (a vm.VM runs one program at a time), and the
// expression environment each server it decides is loaded into (made at
// its first use).
type worker struct {
	machine vm.VM
	env     map[string]any
}

// parallel calls do(w, lo, hi) over [0, n) in runs of about chunk or more, on
// up to maxProcs goroutines at once (the caller's among them), each with
// a worker of its own, and returns once every chunk is done. Chunks are
// handed out in order but finish in any: do must write only what belongs
// to its range. A panic in do is raised again in the caller.
func (e *Evaluator) parallel(n int, do func(w *worker, lo, hi int)) {
	e.parallelBy(n, min((n+chunk-1)/chunk, chunksPerProc*e.maxProcs()), do)
}

// maxProcs is how many goroutines may evaluate a fleet at once.
func (e *Evaluator) maxProcs() int {
	if e.procs > 0 {
		return e.procs
	}
	return runtime.GOMAXPROCS(0)
}

// parallelBy is parallel over [0, n) cut into the given number of chunks
// (at least 1, at most n), thus on as many goroutines at most.
func (e *Evaluator) parallelBy(n, chunks int, do func(w *worker, lo, hi int)) {
	chunks = max(min(chunks, n), 1)
	size := (n + chunks - 1) / chunks
	procs := min(e.maxProcs(), chunks)
	for len(e.workers) < max(procs, 1) {
		e.workers = append(e.workers, &worker{})
	}
	if procs <= 1 {
		if n > 0 {
			do(e.workers[0], 0, n)
		}
		return
	}
	var next atomic.Int64
	var (
		mu     sync.Mutex
		failed *workerPanic
	)
	run := func(w *worker) {
		defer func() {
			if r := recover(); r != nil {
				mu.Lock()
				if failed == nil {
					failed = &workerPanic{value: r, stack: debug.Stack()}
				}
				mu.Unlock()
			}
		}()
		for {
			lo := int(next.Add(int64(size))) - size
			if lo >= n {
				return
			}
			do(w, lo, min(lo+size, n))
		}
	}
	var wg sync.WaitGroup
	for _, w := range e.workers[1:procs] {
		wg.Go(func() { run(w) })
	}
	run(e.workers[0])
	wg.Wait()
	if failed != nil {
		panic(failed)
	}
}

// workerPanic carries a worker's panic to the caller, with the stack of
// the goroutine where it happened.
type workerPanic struct {
	value any
	stack []byte
}

func (p *workerPanic) Error() string {
	return fmt.Sprintf("%v\n\nin a goroutine evaluating fleet servers:\n%s", p.value, p.stack)
}

// Unwrap returns the panic value when it is an error.
func (p *workerPanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}
