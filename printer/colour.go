package printer

import "github.com/soapsess/soapsess/xmltok"

func (p *Printer) on(s Style, b []byte) {
	p.w.WriteString(s.On)
	p.w.Write(b)
	p.w.WriteString(s.Off)
}

// colour writes a token with the palette's escape sequences around its parts.
func (p *Printer) colour(kind xmltok.Kind, b []byte, nameLen int, style *Style) error {
	pal := p.pal
	name := pal.Tag
	if style != nil {
		name = *style
	}
	switch kind {
	case xmltok.StartTag, xmltok.EmptyTag:
		tag := pal.Tag
		p.on(tag, b[:1])
		p.on(name, b[1:1+nameLen])
		t := xmltok.Token{Kind: kind, Raw: b, Name: b[1 : 1+nameLen]}
		var err error
		p.attrs, err = t.Attrs(p.attrs[:0])
		if err != nil {
			// Colour never decides what is valid: a tag whose attributes do
			// not parse is printed as it is, in the tag's colour.
			p.on(tag, b[1+nameLen:])
			return nil
		}
		at := 1 + nameLen
		for _, a := range p.attrs {
			p.w.Write(b[at:a.NameAt])
			p.on(pal.Attr, a.Name)
			p.w.Write(b[a.NameAt+len(a.Name) : a.ValueAt])
			p.on(pal.Value, b[a.ValueAt:a.ValueEnd])
			at = a.ValueEnd
		}
		p.on(tag, b[at:])
	case xmltok.EndTag:
		p.on(pal.Tag, b[:2])
		p.on(name, b[2:2+nameLen])
		p.on(pal.Tag, b[2+nameLen:])
	case xmltok.Text, xmltok.CData:
		p.on(pal.Text, b)
	default:
		p.on(pal.Comment, b)
	}
	return nil
}
