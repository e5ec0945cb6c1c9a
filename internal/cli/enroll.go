package cli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// enrollRow is one device of a bulk enrollment file. In JSON, a list of
// these objects; in CSV, the columns alg,publicKey,aliases,attributes with
// aliases separated by ';' and attributes as k=v;k=v.
type enrollRow struct {
	Alg        string            `json:"alg"`
	PublicKey  string            `json:"publicKey"`
	Aliases    []string          `json:"aliases,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// bad is why the row cannot be read (a CSV row with the wrong number
	// of fields, an attribute without '='): the row fails alone.
	bad error
}

var enrollHeader = []string{"alg", "publicKey", "aliases", "attributes"}

// readEnrollFile reads the rows of an enrollment file. A file that cannot
// be read as a whole (no such file, a wrong header, broken JSON) is an
// error; a row that cannot be read is a row with bad set.
func readEnrollFile(path string) ([]enrollRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError(fmt.Errorf("%w: give the CSV or JSON file of the devices (bias key new --batch makes one)", err))
	}
	defer f.Close() //nolint:errcheck // read only: a failed close loses nothing
	if strings.EqualFold(filepath.Ext(path), ".json") {
		var rows []enrollRow
		dec := json.NewDecoder(io.LimitReader(f, 1<<30))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rows); err != nil {
			return nil, usageError(fmt.Errorf("%s: %w", path, err))
		}
		return rows, nil
	}
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, usageError(fmt.Errorf("%s: header: %w", path, err))
	}
	if strings.Join(head, ",") != strings.Join(enrollHeader, ",") {
		return nil, usageError(fmt.Errorf("%s: the header must be %s", path, strings.Join(enrollHeader, ",")))
	}
	var rows []enrollRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, usageError(fmt.Errorf("%s: row %d: %w", path, len(rows)+1, err))
		}
		rows = append(rows, csvRow(rec))
	}
}

func csvRow(rec []string) enrollRow {
	if len(rec) != len(enrollHeader) {
		return enrollRow{bad: fmt.Errorf("%d fields, want %d (%s)", len(rec), len(enrollHeader), strings.Join(enrollHeader, ","))}
	}
	row := enrollRow{Alg: rec[0], PublicKey: rec[1]}
	if rec[2] != "" {
		row.Aliases = strings.Split(rec[2], ";")
	}
	if rec[3] != "" {
		row.Attributes = map[string]string{}
		for _, kv := range strings.Split(rec[3], ";") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return enrollRow{bad: fmt.Errorf("attribute %q: want k=v", kv)}
			}
			row.Attributes[k] = v
		}
	}
	return row
}

// entry makes the row's enrollment entry. Its nonce is derived from the
// provider and the key, so that the row's DID is the same at every run:
// a re-run finds what an earlier one committed.
func (row enrollRow) entry(provider string) (op.EnrollEntry, cose.PublicKey, error) {
	if row.bad != nil {
		return op.EnrollEntry{}, cose.PublicKey{}, row.bad
	}
	alg, err := parseAlg(row.Alg)
	if err != nil {
		return op.EnrollEntry{}, cose.PublicKey{}, err
	}
	pub, err := base64.RawURLEncoding.DecodeString(row.PublicKey)
	if err != nil {
		return op.EnrollEntry{}, cose.PublicKey{}, fmt.Errorf("publicKey is not base64url: %w", err)
	}
	pk, err := cose.ParsePublicKey(alg, pub)
	if err != nil {
		return op.EnrollEntry{}, cose.PublicKey{}, err
	}
	e := op.EnrollEntry{Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", pk)}, Aliases: row.Aliases}}
	var list []string
	for k, v := range row.Attributes {
		list = append(list, k+"="+v)
	}
	if e.Doc.Attrs, err = parseAttrs(list); err != nil {
		return e, cose.PublicKey{}, err
	}
	h := sha256.Sum256([]byte("bias-enroll-nonce\x00" + provider + "\x00" + pk.Alg().String() + "\x00" + string(pk.Bytes())))
	e.Nonce = h[:16]
	return e, pk, nil
}

// The status of a row in an enrollment report.
const (
	rowEnrolled = "enrolled" // committed by this run
	rowExists   = "exists"   // on the ledger already (an earlier run)
	rowFailed   = "failed"   // refused: the reason says why
	rowUnknown  = "unknown"  // submitted when the run stopped: run again to know
	rowNotDone  = "not-done" // not submitted: the run stopped first
)

// rowResult is one row of an enrollment report; Row counts the devices of
// the file from 1.
type rowResult struct {
	Row    int    `json:"row"`
	Status string `json:"status"`
	DID    string `json:"did,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// enrollSummary is what `bias provider enroll --output json` prints.
type enrollSummary struct {
	File     string      `json:"file"`
	Report   string      `json:"report"`
	Enrolled int         `json:"enrolled"`
	Exists   int         `json:"exists"`
	Failed   int         `json:"failed"`
	Unknown  int         `json:"unknown"`
	NotDone  int         `json:"notDone"`
	Rows     []rowResult `json:"rows"`
}

// enrollment is one run of `bias provider enroll`.
type enrollment struct {
	a        *app
	c        *sdk.Client
	provider string
	signer   cose.Signer
	kid      did.DID
	entries  []op.EnrollEntry
	keys     []cose.PublicKey
	results  []rowResult
	bar      *progress
	settled  int
}

func (a *app) enrollCmd() *cobra.Command {
	var keyPath, provider, file, report string
	var batch int
	cmd := &cobra.Command{
		Use:   "enroll --key ADMIN_KEY --provider DID --file devices.csv",
		Short: "Register a batch of devices at once (validated on commit); safe to re-run",
		Long: `Enroll devices in bulk from a CSV file (header alg,publicKey,aliases,attributes;
aliases separated by ';', attributes as k=v;k=v) or a JSON list of
{"alg","publicKey","aliases","attributes"}. publicKey is the raw key in
base64url. docs/enroll-sample.csv is a sample; bias key new --batch N --dir D
makes N device keys and their file.

The devices are sent in batches, each one operation signed by the
provider's admin key. A device's DID follows from its row, so a re-run of
the same file (after an interruption, a refusal) skips the rows on the
ledger, found by their DID or their aliases, and enrolls the others exactly
once. A row the ledger refuses does not hold back the other rows of its
batch. Rows are counted from 1 (the first device, after the CSV header).

A batch answered 504 (the node's timeout, or a gateway's) may still
commit: the run looks it up by its hash (GET /v1/operations/{hash}) and,
while no block holds it, submits the same bytes again. A refusal as
replayed counts as success only for the rows whose devices the node
serves; the others are submitted again, or reported unknown.

The report (--report, default FILE.report.csv) lists every row:
row,status,did,reason with status enrolled, exists (an earlier run enrolled
it), failed (the reason says why), unknown (submitted when the run stopped:
run again) or not-done. stdout lists "row,did" of each device on the
ledger; a progress bar and the counts go to stderr.`,
		Example: example("bias provider enroll --key ~/.bias/provider/admin.key --provider did:bias:local:... --file factory-batch.csv",
			"bias provider enroll --key admin.key --provider did:bias:local:... --file devices.json --report devices.report.csv --batch 200"),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batch < 1 || batch > op.MaxEnrollItems {
				return usageError(fmt.Errorf("--batch must be 1 to %d", op.MaxEnrollItems))
			}
			if report == "" {
				report = file + ".report.csv"
			}
			rows, err := readEnrollFile(file)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				return usageError(fmt.Errorf("%s holds no devices", file))
			}
			s, kid, err := a.adminSigner(cmd.Context(), provider, keyPath)
			if err != nil {
				return err
			}
			en := &enrollment{a: a, c: a.client(), provider: provider, signer: s, kid: kid}
			return en.run(cmd.Context(), rows, batch, file, report)
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "an admin key of the provider (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "the provider's DID (required)")
	cmd.Flags().StringVar(&file, "file", "", "CSV or JSON file of devices (required)")
	cmd.Flags().StringVar(&report, "report", "", "report file to write (default FILE.report.csv)")
	cmd.Flags().IntVar(&batch, "batch", 500, "devices per operation")
	for _, f := range []string{"key", "provider", "file"} {
		cmd.MarkFlagRequired(f)
	}
	return cmd
}

func (en *enrollment) run(ctx context.Context, rows []enrollRow, batch int, file, report string) error {
	n := len(rows)
	en.entries, en.keys, en.results = make([]op.EnrollEntry, n), make([]cose.PublicKey, n), make([]rowResult, n)
	seen := map[string]int{}
	for i, row := range rows {
		en.results[i] = rowResult{Row: i + 1, Status: rowNotDone}
		e, pk, err := row.entry(en.provider)
		if err != nil {
			en.results[i].Status, en.results[i].Reason = rowFailed, err.Error()
			continue
		}
		k := pk.Alg().String() + ":" + string(pk.Bytes())
		if j, ok := seen[k]; ok {
			en.results[i].Status, en.results[i].Reason = rowFailed, fmt.Sprintf("the key of row %d again", j+1)
			continue
		}
		seen[k] = i
		id, err := op.EnrollDID(en.kid.Network, en.provider, e)
		if err != nil {
			en.results[i].Status, en.results[i].Reason = rowFailed, err.Error()
			continue
		}
		en.entries[i], en.keys[i], en.results[i].DID = e, pk, id.String()
	}
	en.bar = newProgress(en.a.progressOut(), "enrolled", n)
	err := en.enroll(ctx, batch)
	en.bar.done()
	if werr := writeReport(report, en.results); werr != nil {
		return errors.Join(err, werr)
	}
	counts := map[string]int{}
	for _, r := range en.results {
		counts[r.Status]++
	}
	eerr := en.a.emit(enrollSummary{File: file, Report: report, Enrolled: counts[rowEnrolled], Exists: counts[rowExists],
		Failed: counts[rowFailed], Unknown: counts[rowUnknown], NotDone: counts[rowNotDone], Rows: en.results}, func() {
		for _, r := range en.results {
			if r.Status == rowEnrolled || r.Status == rowExists {
				en.a.out("%d,%s\n", r.Row, r.DID)
			}
		}
	})
	en.a.note("%s: %d enrolled, %d already on the ledger, %d failed, %d unknown, %d not done; report in %s\n",
		file, counts[rowEnrolled], counts[rowExists], counts[rowFailed], counts[rowUnknown], counts[rowNotDone], report)
	err = errors.Join(err, eerr)
	if err != nil {
		return fmt.Errorf("%w: run the same command again: it skips the rows that committed", err)
	}
	if counts[rowFailed] > 0 {
		return refusedError(fmt.Errorf("%d of %d rows failed: their reasons are in %s", counts[rowFailed], n, report))
	}
	return nil
}

// enroll looks the pending rows up on the ledger, then submits the
// others in batches.
func (en *enrollment) enroll(ctx context.Context, batch int) error {
	var todo []int
	for i, r := range en.results {
		if r.Status != rowNotDone {
			en.settle(1)
			continue
		}
		found, err := en.lookup(ctx, i)
		if err != nil {
			return err
		}
		if found {
			en.settle(1)
			continue
		}
		todo = append(todo, i)
	}
	for start := 0; start < len(todo); start += batch {
		if err := en.submit(ctx, todo[start:min(start+batch, len(todo))]); err != nil {
			return err
		}
	}
	return nil
}

func (en *enrollment) settle(k int) {
	en.settled += k
	en.bar.set(en.settled)
}

// lookup finds row i on the ledger: by its DID, or by an alias held by an
// entity of the same key. An alias held by another key fails the row.
func (en *enrollment) lookup(ctx context.Context, i int) (bool, error) {
	r := &en.results[i]
	if _, err := en.c.Entity(ctx, r.DID); err == nil {
		r.Status = rowExists
		return true, nil
	} else if !isNotFound(err) {
		return false, err
	}
	for _, alias := range en.entries[i].Doc.Aliases {
		res, err := en.c.Identify(ctx, alias)
		var re *sdk.ResolutionError
		if errors.As(err, &re) && re.Status < 500 {
			continue // held by no live entity (or not an identifier: the ledger will say)
		}
		if err != nil {
			return false, err
		}
		v, err := en.c.Entity(ctx, res.Document.ID)
		if err != nil {
			return false, err
		}
		if len(v.Keys) > 0 && v.Keys[0].PublicKey == base64.RawURLEncoding.EncodeToString(en.keys[i].Bytes()) {
			r.Status, r.DID = rowExists, v.DID
			return true, nil
		}
		r.Status, r.DID, r.Reason = rowFailed, "", fmt.Sprintf("%s: alias %s is held by %s", op.ReasonAliasTaken, alias, v.DID)
		return true, nil
	}
	return false, nil
}

// submit enrolls the rows idx in one operation. The ledger takes all of
// them or none: when it refuses them, each half is submitted alone, down
// to the row it refuses.
func (en *enrollment) submit(ctx context.Context, idx []int) error {
	items := make([]op.EnrollEntry, len(idx))
	for j, i := range idx {
		items[j] = en.entries[i]
	}
	p := op.Payload{Type: op.TypeEnroll, Network: en.kid.Network, Enroll: &op.Enroll{Provider: en.provider, Items: items}}
	tx, err := op.Sign(en.signer, en.kid, p)
	if err != nil {
		return err
	}
	waited, err := en.send(ctx, tx)
	var ae *sdk.APIError
	switch {
	case err == nil:
		for _, i := range idx {
			en.results[i].Status = rowEnrolled
		}
		en.settle(len(idx))
		return nil
	case errors.As(err, &ae) && ae.Reason == string(op.ReasonReplayed):
		return en.replayed(ctx, idx, waited, err)
	case !errors.As(err, &ae) || !refusal(ae):
		// Not known to be refused: the operation may yet commit.
		for _, i := range idx {
			en.results[i].Status = rowUnknown
		}
		return fmt.Errorf("rows %d to %d: %w", idx[0]+1, idx[len(idx)-1]+1, err)
	case len(idx) > 1:
		h := len(idx) / 2
		if err := en.submit(ctx, idx[:h]); err != nil {
			return err
		}
		return en.submit(ctx, idx[h:])
	default:
		en.results[idx[0]] = rowResult{Row: idx[0] + 1, Status: rowFailed, Reason: ae.Reason + ": " + ae.Message}
	}
	en.settle(1)
	return nil
}

// sendTries bounds the look-ups and resubmissions of a batch whose
// submission timed out, before the run leaves its rows unknown.
const sendTries = 8

// errUnsettled: what became of a batch is not known (its rows are
// unknown: run again).
var errUnsettled = errors.New("the node did not say whether the batch committed")

// send submits tx and settles what became of it. A 504 (the node's
// timeout, or a proxy's) means it may still commit: it is looked up by
// its hash (GET /v1/operations/{hash}, from the height the node's 504
// names), which answers as the submission would have once a block holds
// it; while none does, the same bytes are submitted again. waited
// reports that a 504 came first: a refusal as replayed after it may be
// this run's own batch, committed meanwhile (the caller checks the rows
// at the node).
func (en *enrollment) send(ctx context.Context, tx []byte) (waited bool, err error) {
	sum := sha256.Sum256(tx)
	hash := hex.EncodeToString(sum[:])
	var from int64
	_, err = en.c.Submit(ctx, tx)
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusGatewayTimeout {
		return false, err
	}
	for try := 0; try < sendTries; try++ {
		if ae.From > 0 && from == 0 {
			from = ae.From
		}
		_, err = en.c.Operation(ctx, hash, from)
		switch {
		case !errors.As(err, &ae):
			return true, err // committed (nil), or the node is out of reach
		case ae.Status == http.StatusNotFound:
			// No block holds it (yet): the node may have dropped it, so
			// the same bytes go again (a refusal as replayed says they
			// wait in its mempool, or committed meanwhile).
			if err := pause(ctx, try); err != nil {
				return true, err
			}
			_, err = en.c.Submit(ctx, tx)
			if !errors.As(err, &ae) || ae.Status != http.StatusGatewayTimeout {
				return true, err
			}
		case ae.Status == http.StatusTooManyRequests || ae.Status >= 500:
			if err := pause(ctx, try); err != nil {
				return true, err
			}
		default:
			return true, err // a block refused it
		}
	}
	// (the last answer is told, not wrapped: it is no refusal)
	return true, fmt.Errorf("%w after %d looks at the node (%s)", errUnsettled, sendTries, err.Error())
}

// pause waits a little longer at each try (up to 5 s), or until ctx ends.
func pause(ctx context.Context, try int) error {
	t := time.NewTimer(min(time.Duration(1<<min(try, 5))*200*time.Millisecond, 5*time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// replayed settles rows idx, whose batch the ledger refused as replayed:
// one of them is on it already. The error alone says not which, nor
// whether the batch itself committed (after a timeout, this run's batch
// may have). Each row is looked up at the node: a row it serves is
// enrolled (by this run's batch, when a timeout came first) or exists;
// the others are submitted again as a batch of their own. When the node
// serves none, the same bytes wait in its mempool: the rows are unknown.
func (en *enrollment) replayed(ctx context.Context, idx []int, waited bool, refused error) error {
	var rest []int
	for _, i := range idx {
		found, err := en.lookup(ctx, i)
		if err != nil {
			return err
		}
		if !found {
			rest = append(rest, i)
			continue
		}
		if waited && en.results[i].Status == rowExists {
			en.results[i].Status = rowEnrolled
		}
		en.settle(1)
	}
	switch {
	case len(rest) == 0:
		return nil
	case len(rest) < len(idx):
		return en.submit(ctx, rest)
	}
	for _, i := range idx {
		en.results[i].Status = rowUnknown
	}
	return fmt.Errorf("rows %d to %d: %w: refused as %s, and the node serves none of their devices yet (the batch may wait in its mempool)",
		idx[0]+1, idx[len(idx)-1]+1, errUnsettled, refused.Error())
}

// refusal tells a refusal of the operation by the ledger from a failure
// after which it may still commit.
func refusal(ae *sdk.APIError) bool {
	switch op.Reason(ae.Reason) {
	case op.ReasonTimeout, op.ReasonMempoolFull, op.ReasonInternal:
		return false
	}
	return ae.Status >= 400 && ae.Status < 500
}

func isNotFound(err error) bool {
	var ae *sdk.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// writeReport writes the report as CSV (row,status,did,reason), or as
// JSON lines when the path ends in .json or .jsonl, through a temporary
// file so that an interrupted write leaves the previous report.
func writeReport(path string, results []rowResult) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".json" || ext == ".jsonl" {
		enc := json.NewEncoder(f)
		for _, r := range results {
			err = errors.Join(err, enc.Encode(r))
		}
	} else {
		w := csv.NewWriter(f)
		err = w.Write([]string{"row", "status", "did", "reason"})
		for _, r := range results {
			err = errors.Join(err, w.Write([]string{strconv.Itoa(r.Row), r.Status, r.DID, r.Reason}))
		}
		w.Flush()
		err = errors.Join(err, w.Error())
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return os.Rename(tmp, path)
}
