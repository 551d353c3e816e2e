package cmd

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/state"
)

// open is an open session loaded for send or end.
type open struct {
	store   *state.Store
	sess    *state.Session
	dialect *envelope.Dialect
	conn    *conn
}

// openSession loads the session named by --session and its dialect.
func (a *appCtx) openSession(c *cli.Context) (*open, error) {
	name, err := a.sessionName(c)
	if err != nil {
		return nil, err
	}
	store, err := a.store(c)
	if err != nil {
		return nil, err
	}
	sess, err := store.Get(name)
	if err != nil {
		return nil, err
	}
	d, err := findDialect(sess.Dialect)
	if err != nil {
		var de *envelope.DialectError
		if errors.As(err, &de) && sess.Dialect != "" && !errors.Is(err, envelope.ErrUnknownDialect) {
			return nil, err // the dialect's own files are broken: say so, not that the state is
		}
		return nil, &state.CorruptError{Path: store.Path(name), Err: err}
	}
	cn, err := a.connect(c, sess, sess.User, d)
	if err != nil {
		return nil, err
	}
	return &open{store: store, sess: sess, dialect: d, conn: cn}, nil
}

// values are what templates see in this session, with the variables of
// this one request on top of those the session began with. What the state
// file holds must still make the session's headers: a hand-edited ID name
// is the file's fault; a variable nobody set is the user's.
func (o *open) values(vars map[string]string) (envelope.Values, error) {
	s := o.sess
	v := envelope.Values{ID: s.ID, IDName: s.IDName, Timeout: s.Timeout, User: s.User, URL: s.URL,
		Vars: merge(s.Vars, vars), Password: o.conn.pass}
	err := o.dialect.CheckValues(v)
	var de *envelope.DialectError
	switch {
	case err == nil, errors.Is(err, envelope.ErrMissingVar), errors.As(err, &de):
		return v, err
	}
	return v, &state.CorruptError{Path: o.store.Path(s.Name), Err: err}
}

// prepare is what send and end share: the open session, the exchange of
// phase p with its variables and body, and the output options.
func (a *appCtx) prepare(c *cli.Context, p envelope.Phase) (*open, *exchange, *output, error) {
	o, err := a.openSession(c)
	if err != nil {
		return nil, nil, nil, err
	}
	vars, err := readVars(c)
	if err != nil {
		return nil, nil, nil, err
	}
	values, err := o.values(vars)
	if err != nil {
		return nil, nil, nil, err
	}
	body, err := a.bodyArg(c, o.dialect, p, values)
	if err != nil {
		return nil, nil, nil, err
	}
	show, err := a.output(c)
	if err != nil {
		return nil, nil, nil, err
	}
	x := &exchange{dialect: o.dialect, phase: p, body: body, url: o.sess.URL, conn: o.conn, values: values}
	return o, x, show, nil
}

// touch records a request the server answered within the session.
func (o *open) touch() error {
	_, err := o.store.Update(o.sess.Name, func(s *state.Session) error {
		if s.ID != o.sess.ID {
			return nil // begun again meanwhile; that session was not used
		}
		now := time.Now().UTC().Truncate(time.Second)
		if now.After(s.LastUsed) {
			s.LastUsed = now
		}
		s.Requests++
		return nil
	})
	if errors.Is(err, state.ErrNoSession) {
		return nil // ended meanwhile
	}
	return err
}

// rejected drops the local session the server no longer knows and says so.
func (o *open) rejected(fe *faultError) error {
	if _, err := o.store.Delete(o.sess.Name, o.sess.ID); err != nil {
		return err
	}
	return withCode(ExitSession,
		fmt.Errorf("the server no longer knows session %q (ID %s): it ended or expired; the local session was dropped (%v)", o.sess.Name, o.sess.ID, fe),
		"run soapsess begin again")
}
