package flow

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	flowpb "github.com/netsampler/goflow2/v2/pb"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
)

// maxMessage caps one message of a protobuf stream: goflow2's are a few
// hundred bytes, and a corrupt length must not make us allocate gigabytes.
const maxMessage = 64 << 10

// ReadStream reads goflow2's binary output (goflow2 -format=bin: each
// FlowMessage after its length as a varint) until r ends or ctx is done,
// and matches every flow as the UDP listeners do. The exporter checked
// against the allow-list is the message's sampler address, which goflow2
// sets to the datagram's source. A stream that cannot be read is an error
// naming the message's place: it cannot be resynchronised.
func (d *Decoder) ReadStream(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	opt := protodelim.UnmarshalOptions{MaxSize: maxMessage}
	var m flowpb.FlowMessage
	var f Flow
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		proto.Reset(&m)
		if err := opt.UnmarshalFrom(br, &m); err != nil {
			if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("goflow2 stream, message %d: %w (goflow2 must write -format=bin with -transport.file.sep= so that nothing comes between messages)", n+1, err)
		}
		d.packets.Add(1)
		exp, _ := netip.AddrFromSlice(m.SamplerAddress)
		if !d.exporters.Allows(exp) {
			d.refused.Add(1)
			continue
		}
		if !fromProto(&m, &f) {
			continue
		}
		d.records.Add(1)
		if f.Received.IsZero() {
			f.Received = time.Now().UTC()
		}
		d.matcher.Match(&f)
	}
}

// FollowStream reads the stream goflow2 writes to path, a named pipe
// (mkfifo) or a file, until ctx is done. A pipe is opened for reading and
// writing, so that goflow2 restarting (its end closed) is no end of the
// stream; a file is followed as tail -f does.
func (d *Decoder) FollowStream(ctx context.Context, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("goflow2 stream: %w", err)
	}
	flag := os.O_RDONLY
	if fi.Mode()&os.ModeNamedPipe != 0 {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return fmt.Errorf("goflow2 stream: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	defer f.Close()
	err = d.ReadStream(ctx, &tail{ctx: ctx, f: f})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("%s: %w", path, err)
}

// tail reads a file that is still being written: at its end it waits for
// more instead of ending.
type tail struct {
	ctx context.Context
	f   *os.File
}

func (t *tail) Read(p []byte) (int, error) {
	for {
		n, err := t.f.Read(p)
		if n > 0 || (err != nil && !errors.Is(err, io.EOF)) {
			return n, err
		}
		select {
		case <-t.ctx.Done():
			return 0, t.ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
