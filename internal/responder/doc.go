// Package responder answers HAProxy's agent-check polls over TCP.
//
// HAProxy polls the agent: it connects, writes its agent-send string if the
// server line has one, reads one reply line and closes. The responder never
// computes anything while a poll is open. The evaluation loop builds a Table
// of finished reply lines and hands it to Server.Publish; every poll answers
// from the table loaded (one atomic load) when its connection is handled.
//
// Every connection is bounded in time from the moment it is accepted (read
// deadline, then write deadline), so silent or dripping clients, garbage and
// oversize requests cost one goroutine for at most ReadTimeout+WriteTimeout,
// and the number of such goroutines is capped by MaxConnections.
//
// A table without services is answered without reading. If HAProxy is
// nevertheless configured with agent-send, the unread line makes the
// kernel end the connection with a reset after the reply; the reply is sent
// first and normally arrives, but such a configuration should either drop
// agent-send or give the rule file services.
package responder
