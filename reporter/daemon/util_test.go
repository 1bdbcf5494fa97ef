package daemon_test

import (
	"bytes"
	"encoding/base64"
)

func decodeBase64(b []byte) ([]byte, error) {
	b = bytes.NewBuffer(bytes.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, b)).Bytes()
	return base64.StdEncoding.DecodeString(string(b))
}
