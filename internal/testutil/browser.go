package testutil

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Browser is a headless chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: commands on its fd 3, answers on fd 4,
// each a JSON message ended by a NUL byte), so that a test can size the
// window, load a page, read its DOM with JavaScript evaluated by the
// browser (the page itself may forbid scripts) and take screenshots. It
// needs nothing but chromium.
type Browser struct {
	cmd   *exec.Cmd
	in    *os.File // the browser's fd 3, written here
	done  chan struct{}
	mu    sync.Mutex
	next  int
	calls map[int]chan cdpMessage
	// loads gets the session of each Page.loadEventFired.
	loads chan string
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    any             `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// StartBrowser starts chromium, skipping the test without it (failing with
// AGENT_REQUIRE_SERVERS set); it is stopped when the test ends.
func StartBrowser(t testing.TB) *Browser {
	t.Helper()
	bin := RequireBinary(t, "CHROMIUM_BIN", "chromium", "/usr/bin/chromium")
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	cmdR.Close()
	outW.Close()
	b := &Browser{cmd: cmd, in: cmdW, done: make(chan struct{}), calls: map[int]chan cdpMessage{}, loads: make(chan string, 16)}
	go b.read(outR)
	t.Cleanup(func() {
		b.in.Close() // chromium exits when its pipe closes
		select {
		case <-b.done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-b.done
		}
		_ = cmd.Wait()
	})
	return b
}

// read dispatches the browser's messages until it exits.
func (b *Browser) read(r *os.File) {
	defer close(b.done)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, 0); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		var m cdpMessage
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m.ID == 0 {
			if m.Method == "Page.loadEventFired" {
				select {
				case b.loads <- m.SessionID:
				default:
				}
			}
			continue
		}
		b.mu.Lock()
		ch := b.calls[m.ID]
		delete(b.calls, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// call sends one command and decodes its result into out (if not nil).
func (b *Browser) call(t testing.TB, session, method string, params, out any) {
	t.Helper()
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan cdpMessage, 1)
	b.calls[id] = ch
	b.mu.Unlock()
	msg, err := json.Marshal(cdpMessage{ID: id, Method: method, Params: params, SessionID: session})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.in.Write(append(msg, 0)); err != nil {
		t.Fatalf("chromium %s: %v", method, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // catches hangs only
	defer cancel()
	select {
	case m := <-ch:
		if m.Error != nil {
			t.Fatalf("chromium %s: %s", method, m.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				t.Fatalf("chromium %s: %v", method, err)
			}
		}
	case <-b.done:
		t.Fatalf("chromium exited during %s", method)
	case <-ctx.Done():
		t.Fatalf("chromium %s: no answer", method)
	}
}

// Tab is one page of the browser.
type Tab struct {
	b       *Browser
	session string
}

// Open opens a tab of width × height CSS pixels (at one device pixel
// each) and loads url in it.
func (b *Browser) Open(t testing.TB, url string, width, height int) *Tab {
	t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.call(t, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	b.call(t, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	tab := &Tab{b: b, session: att.SessionID}
	b.call(t, tab.session, "Page.enable", nil, nil)
	tab.Resize(t, width, height)
	tab.Load(t, url)
	return tab
}

// Resize sets the tab's viewport, as a window of that size would have.
func (tab *Tab) Resize(t testing.TB, width, height int) {
	t.Helper()
	tab.b.call(t, tab.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
}

// Load loads url in the tab and waits for its load event.
func (tab *Tab) Load(t testing.TB, url string) {
	t.Helper()
	for len(tab.b.loads) > 0 {
		<-tab.b.loads
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	tab.b.call(t, tab.session, "Page.navigate", map[string]any{"url": url}, &nav)
	if nav.ErrorText != "" {
		t.Fatalf("chromium: loading %s: %s", url, nav.ErrorText)
	}
	timeout := time.After(60 * time.Second) // catches hangs only
	for {
		select {
		case s := <-tab.b.loads:
			if s == tab.session {
				return
			}
		case <-timeout:
			t.Fatalf("chromium: %s did not load", url)
		}
	}
}

// Eval evaluates a JavaScript expression in the page (as the DevTools
// console does, whatever the page's Content-Security-Policy) and decodes
// its value, which must be JSON-serializable, into out.
func (tab *Tab) Eval(t testing.TB, expr string, out any) {
	t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	tab.b.call(t, tab.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res)
	if e := res.ExceptionDetails; e != nil {
		t.Fatalf("evaluating %s: %s %s", expr, e.Text, e.Exception.Description)
	}
	if err := json.Unmarshal(res.Result.Value, out); err != nil {
		t.Fatalf("evaluating %s: %v (got %s)", expr, err, res.Result.Value)
	}
}

// Screenshot writes a PNG of the page, its whole height when full is
// set, else the viewport, to path.
func (tab *Tab) Screenshot(t testing.TB, path string, full bool) {
	t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	tab.b.call(t, tab.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": full}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(fmt.Errorf("screenshot: %w", err))
	}
}
