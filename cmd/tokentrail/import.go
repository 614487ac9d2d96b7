package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/ingest"
	"github.com/tokentrail/tokentrail/source"
	"github.com/tokentrail/tokentrail/source/auth0"
	"github.com/tokentrail/tokentrail/source/entra"
	"github.com/tokentrail/tokentrail/source/jsonl"
	"github.com/tokentrail/tokentrail/source/k8saudit"
	"github.com/tokentrail/tokentrail/source/keycloak"
	"github.com/tokentrail/tokentrail/source/okta"
)

// progressMinBytes is the file size from which import shows a progress bar
// on a terminal; smaller files finish before a bar would be readable.
const progressMinBytes = 16 << 20

// sampleBytes is how much of a file format recognition reads.
const sampleBytes = 64 << 10

// maxPrintedErrors bounds the rejections printed for one file; the summary
// still counts all of them.
const maxPrintedErrors = 20

type importFlags struct {
	format   string
	mapSpec  string
	mapFile  string
	date     string
	timeZone string
	progress string
	verbose  bool
	rules    string
	enrich   string
	noDetect bool
}

func newImportCommand(g *globalFlags) *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "import [flags] FILE|DIR|-...",
		Short: "Import Keycloak, Okta, Auth0, Entra ID, Kubernetes audit or JSON-lines logs",
		Long: `Import reads log files (a directory is read file by file, gzip files are
decompressed, - is standard input) and stores every token event they contain. Without --format,
each file's format is recognised from its first records and named in the
output; jsonl needs --map or --map-file and is never guessed.

Each file gets a summary of records read, events imported, events already
stored (re-importing a file adds nothing), records skipped as not token
events, and records rejected. Rejections are printed as file:line: reason.
The exit status is 1 when anything was rejected.

Formats:
  keycloak  Keycloak events: JBoss text, quoted key=value (Keycloak 24+),
            JSON console and ECS JSON, the JSON event-listener form, and
            admin-REST event JSON
  k8saudit  Kubernetes audit log (audit.k8s.io/v1), service-account tokens
  okta      Okta System Log (API JSON array or JSON lines): OAuth token
            grants, refreshes, revocations and reuse; sign-in sessions
  auth0     Auth0 tenant logs (API JSON array, log streams, exports): code
            and refresh exchanges, Management API calls; sign-ins
  entra     Microsoft Entra ID sign-in logs (interactive, non-interactive,
            service principal) and Microsoft Graph activity logs
  jsonl     any JSON lines, with a field mapping such as
            --map 'jti=jwt.claims.jti,ip=sourceIp,time=requestTime'`,
		Example: `  tokentrail import /var/log/keycloak/server.log
  tokentrail import --format k8saudit audit.log.gz
  tokentrail import --format jsonl --map 'jti=auth.jti,sub=auth.sub,ip=ip,time=ts,path=path' gateway.jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), g.db, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "", "format of every file: "+strings.Join(formatNames, ", ")+" (default: recognise each file)")
	fl.StringVar(&f.mapSpec, "map", "", "jsonl field mapping as field=path pairs, comma-separated")
	fl.StringVar(&f.mapFile, "map-file", "", "jsonl field mapping in a YAML file")
	fl.StringVar(&f.date, "date", "", "date (YYYY-MM-DD) for log lines that carry a time of day only (default: the file's modification date)")
	fl.StringVar(&f.timeZone, "time-zone", "UTC", "time zone of times written without one: an IANA name such as Europe/Berlin, or an offset such as +05:30")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar: auto (on a terminal, for files over 16 MiB), always or never")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "also list why records were skipped, with counts")
	fl.StringVar(&f.rules, "rules", "", "YAML file of detection thresholds, kept in the store for later runs (default: the kept one, else the built-in defaults; none for the defaults; see docs/detection.md)")
	fl.StringVar(&f.enrich, "enrich", "", "YAML file naming GeoIP/ASN .mmdb files and threat-intel lists for detection, kept in the store for later runs (none for no files)")
	fl.BoolVar(&f.noDetect, "no-detect", false, "import without running detection")
	return cmd
}

// importer holds what every file of one import run shares.
type importer struct {
	db       ingest.Appender
	stdin    io.Reader
	formats  []source.Format // candidates for recognition, in order
	forced   *source.Format  // the --format choice, if any
	stdout   io.Writer
	stderr   io.Writer
	progress string
	verbose  bool

	// observe, when detection runs, feeds each valid event to the engine.
	observe func(audit.Event)

	// countRefused is set when a jsonl mapping names no reject_status. Uses
	// whose response status is 401 or 403 are then counted and the user is
	// warned, because the rules read every use as accepted.
	countRefused bool
}

func runImport(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, dbPath string, f importFlags, args []string) error {
	imp, err := newImporter(f, stdout, stderr)
	if err != nil {
		return err
	}
	imp.stdin = stdin
	files, listErrs := listFiles(args)

	db, err := openStore(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	imp.db = db

	var found *detection
	if !f.noDetect {
		if found, err = newDetection(ctx, stderr, db, f.rules, f.enrich); err != nil {
			return err
		}
		defer found.close()
		imp.observe = found.observe
	}

	var total ingest.Summary
	failedFiles := len(listErrs)
	for _, err := range listErrs {
		fmt.Fprintln(stderr, audit.RedactTokens(err.Error()))
	}
	for _, path := range files {
		sum, err := imp.importFile(ctx, path)
		total.Add(sum)
		if err != nil {
			fmt.Fprintln(stderr, audit.RedactTokens(err.Error()))
			failedFiles++
			if ctx.Err() != nil {
				break
			}
		}
	}

	if len(files)+len(listErrs) > 1 {
		fmt.Fprintf(stdout, "total: %d files, %s\n", len(files)+len(listErrs), formatSummary(total))
	}
	if found != nil {
		if err := found.storeImported(ctx, db, stdout, "tokentrail anomalies"); err != nil {
			return err
		}
	}
	if failedFiles > 0 {
		fmt.Fprintf(stderr, "%d of %d files could not be imported in full (see above)\n", failedFiles, len(files)+len(listErrs))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("import interrupted: every batch written before the interruption is kept: %w", ctx.Err())
	}
	if total.Rejected > 0 || failedFiles > 0 {
		return errRejected
	}
	return nil
}

func newImporter(f importFlags, stdout, stderr io.Writer) (*importer, error) {
	loc, err := parseZone(f.timeZone)
	if err != nil {
		return nil, fmt.Errorf("invalid --time-zone %q: want an IANA zone name such as UTC or Europe/Berlin, or an offset such as +05:30", f.timeZone)
	}
	kcOpts := keycloak.Options{Location: loc}
	if f.date != "" {
		d, err := time.ParseInLocation("2006-01-02", f.date, loc)
		if err != nil {
			return nil, fmt.Errorf("invalid --date %q: want YYYY-MM-DD", f.date)
		}
		kcOpts.Date = d
	}
	switch f.progress {
	case "auto", "always", "never":
	default:
		return nil, fmt.Errorf("invalid --progress %q: want auto, always or never", f.progress)
	}

	imp := &importer{
		formats:  recognisable(kcOpts),
		stdout:   stdout,
		stderr:   stderr,
		progress: f.progress,
		verbose:  f.verbose,
	}

	mapping, hasMapping, err := loadMapping(f)
	if err != nil {
		return nil, err
	}
	imp.countRefused = hasMapping && len(mapping.RejectStatus) == 0
	// Format names are lowercase; "Okta" is as clear as "okta", and
	// incident's --format takes any case too.
	f.format = strings.ToLower(strings.TrimSpace(f.format))
	switch f.format {
	case "":
		if hasMapping {
			jf := jsonl.Format(mapping)
			imp.forced = &jf
		}
	case "jsonl":
		if !hasMapping {
			return nil, errors.New("--format jsonl needs a field mapping: pass --map 'jti=PATH,time=PATH,...' or --map-file FILE")
		}
		jf := jsonl.Format(mapping)
		imp.forced = &jf
	default:
		i := slices.IndexFunc(imp.formats, func(sf source.Format) bool { return sf.Name == f.format })
		if i < 0 {
			return nil, fmt.Errorf("unknown --format %q: want one of %s", f.format, strings.Join(formatNames, ", "))
		}
		imp.forced = &imp.formats[i]
		if hasMapping {
			return nil, fmt.Errorf("--map and --map-file apply to --format jsonl only, not %q", f.format)
		}
	}
	return imp, nil
}

func loadMapping(f importFlags) (jsonl.Mapping, bool, error) {
	switch {
	case f.mapSpec != "" && f.mapFile != "":
		return jsonl.Mapping{}, false, errors.New("pass either --map or --map-file, not both")
	case f.mapSpec != "":
		m, err := jsonl.ParseMapping(f.mapSpec)
		if err != nil {
			return m, false, fmt.Errorf("invalid --map: %w", err)
		}
		return m, true, nil
	case f.mapFile != "":
		file, err := os.Open(f.mapFile)
		if err != nil {
			return jsonl.Mapping{}, false, fmt.Errorf("open --map-file: %w", err)
		}
		defer file.Close()
		m, err := jsonl.LoadMapping(file)
		if err != nil {
			return m, false, fmt.Errorf("invalid --map-file %s: %w", f.mapFile, err)
		}
		return m, true, nil
	}
	return jsonl.Mapping{}, false, nil
}

// listFiles expands directories into the regular files below them, sorted,
// leaving out hidden files. Links to files are followed, because Kubernetes'
// /var/log/containers contains nothing else. Links to folders inside a
// folder are not, so that a loop of links cannot make the walk endless. A path that
// cannot be read, or a folder with no file, is returned as an error and the
// others are still listed.
func listFiles(args []string) ([]string, []error) {
	var files []string
	var errs []error
	for _, arg := range args {
		if arg == "-" {
			files = append(files, arg)
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", arg, unwrapPathError(err)))
			continue
		}
		if !info.IsDir() {
			files = append(files, arg)
			continue
		}
		root := arg
		if !strings.HasSuffix(root, string(filepath.Separator)) {
			// With a trailing separator, WalkDir enters a root that is a
			// link to a folder instead of listing the link itself.
			root += string(filepath.Separator)
		}
		before := len(files)
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", path, unwrapPathError(err)))
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") && path != root {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			switch {
			case d.Type().IsRegular():
				files = append(files, path)
			case d.Type()&fs.ModeSymlink != 0:
				target, err := os.Stat(path)
				switch {
				case err != nil:
					errs = append(errs, fmt.Errorf("%s: broken link: %w", path, unwrapPathError(err)))
				case target.Mode().IsRegular():
					files = append(files, path)
				case target.IsDir():
					errs = append(errs, fmt.Errorf("%s: a link to a folder inside a folder is not followed; name it on the command line to import it", path))
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", arg, err))
		}
		if len(files) == before {
			errs = append(errs, fmt.Errorf("%s: no file to import in this folder", arg))
		}
	}
	return files, errs
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// importFile imports one file and prints its summary and rejections.
func (imp *importer) importFile(ctx context.Context, path string) (ingest.Summary, error) {
	if path == "-" {
		return imp.importReader(ctx, "stdin", imp.stdin, -1, time.Time{})
	}
	file, err := os.Open(path)
	if err != nil {
		return ingest.Summary{}, fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return ingest.Summary{}, fmt.Errorf("%s: %w", path, err)
	}
	size := info.Size()
	if !info.Mode().IsRegular() {
		size = -1 // a pipe or a device has no meaningful size
	}
	if size == 0 {
		return ingest.Summary{}, fmt.Errorf("%s: empty file, nothing to import", path)
	}
	return imp.importReader(ctx, path, file, size, info.ModTime())
}

// importReader imports one input of the given size (-1 when unknown) and
// prints its summary and rejections.
func (imp *importer) importReader(ctx context.Context, path string, file io.Reader, size int64, modTime time.Time) (ingest.Summary, error) {
	var metered io.Reader = file
	bar := imp.progressBar(path, size)
	if bar != nil {
		r := progressbar.NewReader(file, bar)
		metered = &r
		defer bar.Close()
	}

	r, compressed, err := decompress(metered)
	if err != nil {
		return ingest.Summary{}, fmt.Errorf("%s: %w", path, err)
	}
	buffered := bufio.NewReaderSize(r, sampleBytes)
	sample, err := buffered.Peek(sampleBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) && len(sample) == 0 {
		return ingest.Summary{}, fmt.Errorf("%s: read: %w", path, err)
	}
	// A read error after some data, such as a truncated gzip file, is met
	// again by the importer, which keeps every record before it.
	if len(sample) == 0 {
		return ingest.Summary{}, fmt.Errorf("%s: empty after decompression, nothing to import", path)
	}
	if err := checkText(path, sample, compressed); err != nil {
		return ingest.Summary{}, err
	}

	format, err := imp.chooseFormat(path, sample)
	if err != nil {
		return ingest.Summary{}, err
	}

	printed := 0
	opts := ingest.Options{OnEvent: imp.observe, OnReject: func(err *source.RecordError) {
		if printed < maxPrintedErrors {
			fmt.Fprintln(imp.stderr, audit.RedactTokens(err.Error()))
		}
		printed++
	}, OnWarn: func(message string) {
		fmt.Fprintf(imp.stderr, "%s: warning: %s\n", path, message)
	}}
	refused := 0
	if imp.countRefused {
		observe := imp.observe
		opts.OnEvent = func(e audit.Event) {
			if e.Kind == audit.KindUsed && (e.Status == 401 || e.Status == 403) {
				refused++
			}
			if observe != nil {
				observe(e)
			}
		}
	}
	in := source.Input{Reader: buffered, Name: path, ModTime: modTime}
	sum, err := ingest.File(ctx, imp.db, format, in, opts)
	if bar != nil {
		_ = bar.Finish() // only redraws the bar; nothing to report
	}
	if printed > maxPrintedErrors {
		fmt.Fprintf(imp.stderr, "%s: %d more rejected records not shown\n", path, printed-maxPrintedErrors)
	}

	how := format.Name
	if imp.forced == nil {
		how += ", recognised"
	}
	if compressed {
		how += ", gzip"
	}
	fmt.Fprintf(imp.stdout, "%s (%s): %s\n", path, how, formatSummary(sum))
	if refused > 0 {
		fmt.Fprintf(imp.stderr, "%s: warning: %s got the response status 401 or 403 and were imported as uses, which the rules read as accepted; "+
			"if it refused those tokens, add reject_status: [401, 403] to the mapping (reject_status=401|403 in --map) and import into a new --db\n",
			path, counted(refused, "request", "requests"))
	}
	if imp.verbose {
		writeSkipReasons(imp.stdout, sum.SkipReasons)
	} else if sum.Events == 0 && sum.Skipped > 0 && sum.Rejected == 0 {
		fmt.Fprintf(imp.stderr, "%s: no token or session event in %d records read; import -v lists why they were skipped\n", path, sum.Read)
	}
	return sum, err
}

func (imp *importer) chooseFormat(path string, sample []byte) (source.Format, error) {
	if imp.forced != nil {
		// jsonl never recognises a file: its mapping decides what is read.
		if imp.forced.Name != "jsonl" && !imp.forced.Detect(sample) {
			fmt.Fprintf(imp.stderr, "%s: warning: its first records do not look like %s%s; importing them as --format says\n", path, imp.forced.Name, imp.lookalike(sample))
		}
		return *imp.forced, nil
	}
	for _, f := range imp.formats {
		if f.Detect(sample) {
			return f, nil
		}
	}
	if len(sample) == sampleBytes && !bytes.Contains(sample, []byte("\n")) {
		return source.Format{}, fmt.Errorf("%s: format not recognised: its first line is longer than the %d KiB that recognition reads, "+
			"so nothing was imported from it; pass --format to import it (a record over 4 MiB is still rejected)", path, len(sample)>>10)
	}
	return source.Format{}, fmt.Errorf("%s: format not recognised from its first records (not Keycloak events, Okta, Auth0 or Entra ID logs, "+
		"or a Kubernetes audit log), so nothing was imported from it; pass --format, or --format jsonl with --map for other JSON lines", path)
}

// parseZone reads an IANA zone name or a fixed offset such as "+05:30".
func parseZone(name string) (*time.Location, error) {
	if offset, err := time.Parse("-07:00", name); err == nil {
		_, seconds := offset.Zone()
		return time.FixedZone(name, seconds), nil
	}
	return time.LoadLocation(name)
}

// lookalike returns ", but like NAME" for the first format that recognises
// sample, so that a wrong --format names the right one, and "" when none
// does.
func (imp *importer) lookalike(sample []byte) string {
	for _, f := range imp.formats {
		if f.Detect(sample) {
			return fmt.Sprintf(", but like %s (--format %s, or no --format)", f.Name, f.Name)
		}
	}
	return ""
}

// formatNames are the values of --format, in the order --help lists them.
var formatNames = []string{"keycloak", "k8saudit", "okta", "auth0", "entra", "jsonl"}

// recognisable returns the formats whose Detect import tries on each file,
// in order. jsonl is not among them: without a mapping it cannot know which
// field is what.
func recognisable(kcOpts keycloak.Options) []source.Format {
	return []source.Format{keycloak.Format(kcOpts), k8saudit.Format(), okta.Format(), auth0.Format(), entra.Format()}
}

func (imp *importer) progressBar(path string, size int64) *progressbar.ProgressBar {
	if size < 0 {
		return nil
	}
	show := imp.progress == "always"
	if imp.progress == "auto" {
		f, ok := imp.stderr.(*os.File)
		show = ok && term.IsTerminal(int(f.Fd())) && size >= progressMinBytes
	}
	if !show {
		return nil
	}
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(imp.stderr),
		progressbar.OptionSetDescription(filepath.Base(path)),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// decompress returns a reader of the decompressed content when r starts with
// the gzip magic number, and r itself otherwise.
func decompress(r io.Reader) (io.Reader, bool, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("read: %w", err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, true, fmt.Errorf("invalid gzip data: %w", err)
		}
		return truncationReader{zr}, true, nil
	}
	return br, false, nil
}

// errTruncated replaces io.ErrUnexpectedEOF from a gzip stream, which alone
// gives a responder no hint of what went wrong or what was kept.
var errTruncated = errors.New("the gzip data ends before its end marker, so the file is truncated or still being written; the records before the cut were imported")

// truncationReader reports a gzip stream cut short as errTruncated.
type truncationReader struct{ r io.Reader }

func (t truncationReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errTruncated
	}
	return n, err
}

func formatSummary(s ingest.Summary) string {
	return fmt.Sprintf("read %d, imported %d, duplicate %d, skipped %d, rejected %d",
		s.Read, s.Imported, s.Duplicates, s.Skipped, s.Rejected)
}

// writeSkipReasons lists why records were skipped, the most frequent first.
func writeSkipReasons(w io.Writer, reasons map[string]int) {
	type reason struct {
		text  string
		count int
	}
	list := make([]reason, 0, len(reasons))
	for text, count := range reasons {
		list = append(list, reason{text, count})
	}
	slices.SortFunc(list, func(a, b reason) int {
		if a.count != b.count {
			return b.count - a.count
		}
		return strings.Compare(a.text, b.text)
	})
	const shown = 20
	for i, r := range list {
		if i == shown {
			fmt.Fprintf(w, "  ... and %d more reasons\n", len(list)-shown)
			break
		}
		fmt.Fprintf(w, "  skipped %d: %s\n", r.count, audit.RedactTokens(r.text))
	}
}
