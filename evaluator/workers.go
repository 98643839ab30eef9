package evaluator

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr/vm"
)

// chunk is how many fleet servers a worker takes at a time: enough that
// handing them out costs nothing next to evaluating them, few enough that
// the workers finish together.
const chunk = 128

// worker is what one goroutine evaluating fleet servers owns: an
// expression machine (a vm.VM runs one program at a time).
type worker struct {
	machine vm.VM
}

// parallel calls do(w, lo, hi) over [0, n) in chunks, on up to e.procs
// goroutines at once (the caller's among them), each with a worker of its
// own, and returns once every chunk is done. Chunks are handed out in
// order but finish in any: do must write only what belongs to its range.
// A panic in do is raised again in the caller.
func (e *Evaluator) parallel(n int, do func(w *worker, lo, hi int)) {
	procs := e.procs
	if procs <= 0 {
		procs = runtime.GOMAXPROCS(0)
	}
	procs = min(procs, (n+chunk-1)/chunk)
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
		failed *panicked
	)
	run := func(w *worker) {
		defer func() {
			if r := recover(); r != nil {
				mu.Lock()
				if failed == nil {
					failed = &panicked{r}
				}
				mu.Unlock()
			}
		}()
		for {
			lo := int(next.Add(chunk)) - chunk
			if lo >= n {
				return
			}
			do(w, lo, min(lo+chunk, n))
		}
	}
	var wg sync.WaitGroup
	for _, w := range e.workers[1:procs] {
		wg.Go(func() { run(w) })
	}
	run(e.workers[0])
	wg.Wait()
	if failed != nil {
		panic(failed.value)
	}
}

// panicked carries a worker's panic value to the caller.
type panicked struct{ value any }
