package client

// Form bodies are appended by hand to the request's pooled body buffer, so
// that the worker's requests do not allocate for them.

const upperHex = "0123456789ABCDEF"

// appendField appends "&key=value" (no "&" when b is empty), value
// url-encoded as application/x-www-form-urlencoded.
func appendField[S ~string | ~[]byte](b []byte, key string, value S) []byte {
	if len(b) > 0 {
		b = append(b, '&')
	}
	b = append(b, key...)
	b = append(b, '=')
	return appendEscaped(b, value)
}

// appendEscaped appends s with everything but unreserved characters
// percent-encoded, and spaces as '+'.
func appendEscaped[S ~string | ~[]byte](b []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			continue
		}
		b = append(b, s[start:i]...)
		if c == ' ' {
			b = append(b, '+')
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&0xf])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}
