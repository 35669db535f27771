// Command lz4-go compresses or decompresses one file with github.com/pierrec/lz4/v4, the LZ4
// library Longhorn's backupstore writes and reads its blocks with, so the tests can check that
// our lz4 blocks and Longhorn's are the same format. Test fixture, built by lz4-frames.test.ts.
//
//	lz4-go compress|decompress IN OUT
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	lz4 "github.com/pierrec/lz4/v4"
)

func main() {
	if len(os.Args) != 4 {
		fail(fmt.Errorf("usage: lz4-go compress|decompress IN OUT"))
	}
	in, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail(err)
	}
	var out []byte
	switch os.Args[1] {
	case "compress":
		var b bytes.Buffer
		w := lz4.NewWriter(&b)
		if _, err := w.Write(in); err != nil {
			fail(err)
		}
		if err := w.Close(); err != nil {
			fail(err)
		}
		out = b.Bytes()
	case "decompress":
		if out, err = io.ReadAll(lz4.NewReader(bytes.NewReader(in))); err != nil {
			fail(err)
		}
	default:
		fail(fmt.Errorf("unknown command %s", os.Args[1]))
	}
	if err := os.WriteFile(os.Args[3], out, 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
