package xmltok

import "bytes"

// Attr is one attribute of a start or empty-element tag, located in the
// tag's raw bytes.
type Attr struct {
	Name  []byte // qualified name
	Value []byte // the value as written, without quotes, entity references unexpanded
	// Offsets in Token.Raw: the name starts at NameAt; the quoted value,
	// quotes included, is Raw[ValueAt:ValueEnd].
	NameAt, ValueAt, ValueEnd int
}

// Attrs appends the attributes of a start or empty-element tag to dst.
func (t *Token) Attrs(dst []Attr) ([]Attr, error) {
	raw := t.Raw
	i := 1 + len(t.Name)
	end := len(raw) - 1 // the '>'
	if t.Kind == EmptyTag {
		end--
	}
	for {
		start := i
		for i < end && isSpace(raw[i]) {
			i++
		}
		if i >= end {
			return dst, nil
		}
		if i == start {
			return dst, t.errorf("attributes must be separated by white space")
		}
		n := nameLen(raw[i:end])
		if n == 0 {
			return dst, t.errorf("an attribute without a name")
		}
		a := Attr{Name: raw[i : i+n], NameAt: i}
		i += n
		for i < end && isSpace(raw[i]) {
			i++
		}
		if i >= end || raw[i] != '=' {
			return dst, t.errorf("attribute %s has no value", a.Name)
		}
		i++
		for i < end && isSpace(raw[i]) {
			i++
		}
		if i >= end || (raw[i] != '"' && raw[i] != '\'') {
			return dst, t.errorf("the value of attribute %s is not quoted", a.Name)
		}
		q := raw[i]
		j := bytes.IndexByte(raw[i+1:end], q)
		if j < 0 {
			return dst, t.errorf("the value of attribute %s is not closed", a.Name)
		}
		a.ValueAt, a.ValueEnd = i, i+j+2
		a.Value = raw[i+1 : i+1+j]
		if bytes.IndexByte(a.Value, '<') >= 0 {
			return dst, t.errorf("'<' in the value of attribute %s", a.Name)
		}
		for _, b := range dst {
			if bytes.Equal(b.Name, a.Name) {
				return dst, t.errorf("attribute %s appears twice", a.Name)
			}
		}
		dst = append(dst, a)
		i = a.ValueEnd
	}
}

func (t *Token) errorf(format string, args ...any) error {
	return &SyntaxError{Line: t.Line, Msg: "tag <" + string(t.Name) + ">: " + sprintf(format, args...)}
}
