/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - smile-label: render label records (JSON Lines) to PNG, PDF or ZPL,
 * print them on a printer, print sample records, or show where everything
 * lands on a label.
 *
 * Rendering streams: one line is read, parsed, rendered and written at a
 * time, so memory stays flat whatever the batch size. With --jobs N, N
 * worker threads (one renderer each: renderers are not thread-safe) take
 * lines from a small ring of slots; the main thread reads input into free
 * slots and retires finished slots strictly in input order, so errors are
 * reported by line in order and a single output file (ZPL) keeps input order.
 * A single PDF file is one cairo document, drawn by one thread.
 *
 * Bad records never stop a batch: each is reported on stderr with its line
 * number and reason, counted, and skipped; the exit status is 1 when any
 * record failed, 2 when the run itself could not go on (bad usage, I/O).
 *
 * Printing (`print`) is one thread, one label at a time: render, send
 * (smile_printer_send checks the printer's status first), follow the job
 * until it printed. A printer problem stops the batch (exit 3) with the
 * line, the waybill and the counts; the rules against printing twice are in
 * label/printer.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "smile/buf.h"
#include "smile/error.h"
#include "smile/label.h"
#include "smile/printer.h"

#define PROG "smile-label"
#define JOBS_MAX 64
#define EXIT_RECORDS 1
#define EXIT_FATAL 2
#define EXIT_PRINTER 3 /* print: the printer stopped the batch or was away */

/* ------------------------------------------------------------ help */

static const char usage_main[] =
	"Usage: " PROG " COMMAND [OPTIONS]\n"
	"\n"
	"Render smile waybill labels from label records (one JSON object per line,\n"
	"see docs/label-record.md).\n"
	"\n"
	"Commands:\n"
	"  render   render records to PNG, PDF or ZPL files\n"
	"  sample   print realistic, already-masked sample records\n"
	"  layout   print where every block, text and code lands (JSON, in dots)\n"
	"  print    render records and print them: raw TCP 9100 (ZPL) or CUPS\n"
	"  printers list CUPS queues, or probe one printer's status\n"
	"  help     show this help, or a command's: " PROG " help render\n"
	"\n"
	"Run '" PROG " COMMAND --help' for a command's options.\n"
	"\n"
	"Example:\n"
	"  " PROG " sample --count 20 > batch.jsonl\n"
	"  " PROG " render --in batch.jsonl --format pdf --out labels.pdf\n"
	"  " PROG " print --in batch.jsonl --printer socket://zebra1.example:9100\n";

static const char usage_render[] =
	"Usage: " PROG " render --in FILE|- --format png|pdf|zpl --out PATH [OPTIONS]\n"
	"\n"
	"Render every record of FILE (JSON Lines; '-' reads standard input).\n"
	"\n"
	"  -i, --in FILE|-        label records, one JSON object per line\n"
	"  -f, --format FMT       png (1-bit, for previews), pdf (laser printers),\n"
	"                         zpl (Zebra thermal printers)\n"
	"  -o, --out PATH         a directory: one file per label, <waybill>.<format>;\n"
	"                         a file (pdf, zpl): every label in it, in input order\n"
	"                         ('-' writes that file to standard output).\n"
	"                         A directory (and its parents) is created if PATH\n"
	"                         ends in '/'.\n"
	"  -d, --dpi DPI          printer resolution: 203 (default) or 300\n"
	"  -s, --size SIZE        label size in mm: 100x150 (default, 4x6 in),\n"
	"                         100x180 or 76x130\n"
	"  -j, --jobs N           render with N threads (default 1; a single PDF\n"
	"                         file is always drawn by one thread)\n"
	"      --stats            print \"N labels, F failed, X s, Y labels/s, peak RSS\"\n"
	"                         on standard error at the end\n"
	"      --no-progress      no progress bar (it only shows on a terminal anyway)\n"
	"  -h, --help             this help\n"
	"\n"
	"A record that cannot be printed (bad JSON, a missing field, a phone that\n"
	"shows more than 5 digits or a name with no '*', text that does not fit, a\n"
	"character no font has) is reported on standard error with its line number\n"
	"and reason, skipped, and counted. Exit status: 0 all rendered, 1 some records\n"
	"failed, 2 the run could not go on (usage, input or output error).\n"
	"\n"
	"Examples:\n"
	"  " PROG " render --in batch.jsonl --format pdf --out labels.pdf\n"
	"  " PROG " render --in batch.jsonl --format png --out previews/\n"
	"  " PROG " render --in batch.jsonl --format zpl --dpi 300 --out - | nc -q1 printer 9100\n"
	"\n"
	"Record format: docs/label-record.md. Layout, formats, printers: docs/label.md.\n";

static const char usage_sample[] =
	"Usage: " PROG " sample [--count N] [--seed S]\n"
	"\n"
	"Print N realistic label records as JSON Lines: mixed Chinese and Latin\n"
	"(with Polish diacritics) parties, some Arabic and Hebrew, already masked.\n"
	"The same seed always prints the same records.\n"
	"\n"
	"  -n, --count N   how many records (default 10)\n"
	"  -S, --seed S    stream seed (default 1)\n"
	"  -h, --help      this help\n";

static const char usage_layout[] =
	"Usage: " PROG " layout --in FILE|- [--dpi DPI] [--size SIZE]\n"
	"\n"
	"Lay out each record without drawing it and print one JSON object per line:\n"
	"the page size, the rectangles of the 7 blocks (header, barcode, sort,\n"
	"recipient, sender, qr, footer), of every text, the barcode and the QR code\n"
	"with their quiet zones, and the rules - all in printer dots, origin top-left.\n"
	"\n"
	"  -i, --in FILE|-   label records\n"
	"  -d, --dpi DPI     203 (default) or 300\n"
	"  -s, --size SIZE   100x150 (default), 100x180 or 76x130\n"
	"  -h, --help        this help\n";

static const char usage_print[] =
	"Usage: " PROG " print --in FILE|- --printer URI [OPTIONS]\n"
	"\n"
	"Render every record of FILE and print it, one job per label, following each\n"
	"job until the printer reports it printed. The printer's status is checked\n"
	"before every label: a printer that is not ready gets nothing.\n"
	"\n"
	"  -i, --in FILE|-        label records, one JSON object per line\n"
	"  -p, --printer URI      socket://HOST[:PORT]   raw TCP, port 9100 by default\n"
	"                                                (Zebra and most thermal printers)\n"
	"                         cups:NAME              a queue of the local CUPS server\n"
	"                                                (or CUPS_SERVER)\n"
	"                         ipp://HOST[:PORT]/printers/NAME   a queue of the CUPS\n"
	"                                                server at HOST (port 631)\n"
	"  -f, --format FMT       zpl (default for socket; the only one it takes),\n"
	"                         pdf (default for CUPS), png; zpl to a CUPS queue is\n"
	"                         sent raw (a raw queue in front of a thermal printer)\n"
	"  -c, --copies N         copies of each label, 1-999 (default 1)\n"
	"  -d, --dpi DPI          printer resolution: 203 (default) or 300\n"
	"  -s, --size SIZE        label size in mm: 100x150 (default), 100x180, 76x130\n"
	"  -t, --timeout MS       connect and per-answer time-out (default 5000 connect,\n"
	"                         10000 for each write or status answer)\n"
	"      --job-timeout S    how long to follow one job until printed (default 120)\n"
	"  -r, --retries N        connection attempts after the first fails (default 2;\n"
	"                         only before a label is sent, never after)\n"
	"      --stats            print \"N printed, F failed, X s\" on standard error\n"
	"      --no-progress      no progress bar (it only shows on a terminal anyway)\n"
	"  -h, --help             this help\n"
	"\n"
	"Bad records are reported with their line number, skipped and counted, as with\n"
	"render. A printer problem (away, paper out, head open, paused, buffer full,\n"
	"queue stopped, job stopped or cancelled) stops the batch: the error names the\n"
	"reason, the line and waybill it stopped at, and how many labels printed; the\n"
	"labels after it are not sent. A label is never sent twice: if the connection\n"
	"breaks while one is being sent, it is reported as possibly printed.\n"
	"Exit status: 0 all printed, 1 some records failed (the rest printed), 2 the\n"
	"run could not go on (usage, input), 3 the printer stopped the batch.\n"
	"\n"
	"Examples:\n"
	"  " PROG " print --in batch.jsonl --printer socket://zebra1.example:9100\n"
	"  " PROG " print --in batch.jsonl --printer cups:labels --format pdf --copies 2\n";

static const char usage_printers[] =
	"Usage: " PROG " printers [--probe URI] [--timeout MS]\n"
	"\n"
	"Without --probe: list the queues of the CUPS server (CUPS_SERVER, or the local\n"
	"one), one per line: URI, state (ready or the reasons), and '*' for the default.\n"
	"With --probe: ask one printer (socket://, cups:, ipp://) for its status and\n"
	"print it: \"URI: ready\" or \"URI: not ready: paper out, head open\".\n"
	"\n"
	"  -P, --probe URI     the printer to ask\n"
	"  -t, --timeout MS    connect and answer time-out (default 5000 / 10000)\n"
	"  -h, --help          this help\n"
	"\n"
	"Exit status: 0 listed, or the printer is ready; 2 usage; 3 the printer is not\n"
	"ready, away, or there is no CUPS server.\n";

static void die_usage(const char *usage, const char *fmt, ...) SMILE_PRINTF(2, 3);

static void die_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\n%s", usage);
	exit(EXIT_FATAL);
}

/* ------------------------------------------------------------ helpers */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double peak_rss_mib(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int is_blank(const struct smile_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] != ' ' && b->data[i] != '\t' && b->data[i] != '\r')
			return 0;
	return 1;
}

static void report(unsigned long line, const struct smile_error *e, enum smile_err err)
{
	char buf[SMILE_ERROR_FIELD_MAX + SMILE_ERROR_MSG_MAX + 8];
	struct smile_error tmp = *e;

	if (tmp.code == SMILE_OK) {
		tmp.code = err;
		snprintf(tmp.message, sizeof(tmp.message), "%s", smile_strerror(err));
	}
	fprintf(stderr, PROG ": line %lu: %s [%s]\n", line, smile_error_format(&tmp, buf, sizeof(buf)),
		smile_errname(err));
}

static FILE *open_input(const char *path)
{
	FILE *f;

	if (strcmp(path, "-") == 0)
		return stdin;
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, PROG ": cannot open %s: %s\n", path, strerror(errno));
		exit(EXIT_FATAL);
	}
	return f;
}

/* mkdir -p: create path and its missing parents (mode 0755). */
static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		buf[i] = i < n ? '/' : '\0';
	}
	return 0;
}

/* Lines in a regular file (for the progress bar's total); 0 when unknown. */
static unsigned long count_lines(FILE *f)
{
	struct stat st;
	char chunk[65536];
	unsigned long n = 0;
	size_t got, last = '\n';
	off_t pos;

	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	pos = ftello(f);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		for (size_t i = 0; i < got; i++)
			n += chunk[i] == '\n';
		last = (unsigned char)chunk[got - 1];
	}
	if (last != '\n')
		n++;
	clearerr(f);
	fseeko(f, pos, SEEK_SET);
	return n;
}

/* ------------------------------------------------------------ progress */

struct progress {
	int on;
	unsigned long total; /* input lines, 0 if unknown */
	double start, last;
};

static void progress_show(struct progress *p, unsigned long lines, unsigned long done, int final)
{
	double t = now(), rate;
	char bar[32];

	if (!p->on || (!final && t - p->last < 0.1))
		return;
	p->last = t;
	rate = t > p->start ? (double)done / (t - p->start) : 0;
	if (final) {
		fputs("\r\033[K", stderr);
		return;
	}
	if (p->total) {
		int w = 24, fill;
		double line_rate = t > p->start ? (double)lines / (t - p->start) : 0;
		double eta = line_rate > 0 && lines < p->total
				     ? (double)(p->total - lines) / line_rate
				     : 0;
		if (lines > p->total)
			lines = p->total;
		fill = (int)((double)lines / (double)p->total * w);
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(w - fill));
		bar[w] = '\0';
		fprintf(stderr, "\r\033[K[%s] %lu/%lu  %.0f labels/s  ETA %.0fs", bar, lines,
			p->total, rate, eta);
	} else {
		fprintf(stderr, "\r\033[K%lu labels  %.0f labels/s", done, rate);
	}
	fflush(stderr);
}

/* ------------------------------------------------------------ render */

struct opts {
	const char *in, *out;
	enum smile_label_format format;
	enum smile_label_size size;
	int dpi, jobs, stats, no_progress, have_format;
};

enum out_mode { OUT_DIR, OUT_FILE };

struct run {
	struct opts o;
	enum out_mode mode;
	FILE *outf;      /* OUT_FILE */
	int out_stdout;
	unsigned long ok, failed, lines;
	atomic_int fatal; /* set by workers too */
	struct progress prog;
	struct smile_buf path;
};

enum slot_state { SLOT_FREE, SLOT_READY, SLOT_BUSY, SLOT_DONE };

struct slot {
	enum slot_state state;
	unsigned long line;
	int too_large;
	struct smile_buf in;
	struct smile_buf out;
	char waybill[64];
	enum smile_err err;
	struct smile_error e;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct slot *slots;
	unsigned nslots;
	unsigned long next_fill, next_take, next_retire; /* sequence numbers */
	int closing;
	struct run *run;
};

/* Parse and render one record into s->out (directory and ZPL-file modes). */
static void process(struct smile_label_renderer *r, struct slot *s)
{
	struct smile_label_record *rec = NULL;

	memset(&s->e, 0, sizeof(s->e));
	smile_buf_reset(&s->out);
	s->waybill[0] = '\0';
	if (s->too_large) {
		s->err = smile_error_set(&s->e, SMILE_ERR_TOO_LARGE, "record",
					 "line longer than %d bytes", SMILE_LABEL_RECORD_MAX);
		return;
	}
	s->err = smile_label_record_parse(s->in.data, s->in.len, &rec, &s->e);
	if (s->err == SMILE_OK) {
		snprintf(s->waybill, sizeof(s->waybill), "%s", smile_label_record_waybill(rec));
		s->err = smile_label_render(r, rec, &s->out, &s->e);
	}
	smile_label_record_free(rec);
}

static int write_all(FILE *f, const char *p, size_t n)
{
	return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1;
}

/* Retire one finished slot: write its output or report its error. */
static void retire(struct run *run, struct slot *s)
{
	if (s->err) {
		report(s->line, &s->e, s->err);
		run->failed++;
		return;
	}
	if (run->mode == OUT_DIR) {
		FILE *f;
		smile_buf_reset(&run->path);
		if (smile_buf_printf(&run->path, "%s/%s.%s", run->o.out, s->waybill,
				     smile_label_format_name(run->o.format))) {
			fprintf(stderr, PROG ": output path too long\n");
			run->fatal = 1;
			return;
		}
		f = fopen(run->path.data, "wb");
		if (f == NULL || write_all(f, s->out.data, s->out.len) || fclose(f)) {
			fprintf(stderr, PROG ": cannot write %s: %s\n", run->path.data,
				strerror(errno));
			run->fatal = 1;
			return;
		}
	} else if (write_all(run->outf, s->out.data, s->out.len)) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", run->o.out, strerror(errno));
		run->fatal = 1;
		return;
	}
	run->ok++;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct smile_label_renderer *r = NULL;
	struct smile_error e = {0};

	if (smile_label_renderer_new(p->run->o.format, p->run->o.dpi, p->run->o.size, &r, &e)) {
		char buf[300];
		fprintf(stderr, PROG ": %s\n", smile_error_format(&e, buf, sizeof(buf)));
		pthread_mutex_lock(&p->mu);
		p->run->fatal = 1;
		pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct slot *s;
		while (!p->closing && p->next_take == p->next_fill)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->next_take == p->next_fill)
			break; /* closing and nothing left */
		s = &p->slots[p->next_take % p->nslots];
		p->next_take++;
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&p->mu);
		process(r, s);
		pthread_mutex_lock(&p->mu);
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	smile_label_renderer_free(r);
	return NULL;
}

/* Retire, in order, every finished slot at the head. Call with mu held; it
 * is released while writing (no worker touches a finished slot). */
static void drain(struct pool *p)
{
	while (p->next_retire < p->next_fill) {
		struct slot *s = &p->slots[p->next_retire % p->nslots];
		if (s->state != SLOT_DONE)
			break;
		pthread_mutex_unlock(&p->mu);
		retire(p->run, s);
		progress_show(&p->run->prog, s->line, p->run->ok, 0);
		pthread_mutex_lock(&p->mu);
		s->state = SLOT_FREE;
		p->next_retire++;
	}
}

static void run_threads(struct run *run, FILE *in)
{
	struct pool p;
	pthread_t th[JOBS_MAX];
	int nth = 0;
	unsigned long line = 0;

	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.done, NULL);
	p.run = run;
	p.nslots = (unsigned)run->o.jobs * 4;
	p.slots = calloc(p.nslots, sizeof(*p.slots));
	if (p.slots == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		run->fatal = 1;
		return;
	}
	for (unsigned i = 0; i < p.nslots; i++) {
		smile_buf_init(&p.slots[i].in, SMILE_LABEL_RECORD_MAX);
		smile_buf_init(&p.slots[i].out, SMILE_LABEL_OUTPUT_MAX);
	}
	for (int i = 0; i < run->o.jobs; i++) {
		if (pthread_create(&th[i], NULL, worker, &p) != 0)
			break;
		nth++;
	}
	if (nth == 0) {
		fprintf(stderr, PROG ": cannot start threads\n");
		run->fatal = 1;
	}

	while (nth > 0) {
		struct slot *s;
		enum smile_err rd;

		pthread_mutex_lock(&p.mu);
		while (!run->fatal && p.next_fill - p.next_retire >= p.nslots) {
			drain(&p);
			if (p.next_fill - p.next_retire >= p.nslots)
				pthread_cond_wait(&p.done, &p.mu);
		}
		drain(&p);
		pthread_mutex_unlock(&p.mu);
		if (run->fatal)
			break;
		s = &p.slots[p.next_fill % p.nslots];
		rd = smile_buf_getline(&s->in, in);
		if (rd == SMILE_ERR_NOT_FOUND)
			break;
		if (rd == SMILE_ERR_IO) {
			fprintf(stderr, PROG ": read error on %s\n", run->o.in);
			run->fatal = 1;
			break;
		}
		line++;
		run->lines = line;
		if (rd == SMILE_OK && is_blank(&s->in))
			continue;
		s->too_large = rd == SMILE_ERR_TOO_LARGE;
		s->line = line;
		pthread_mutex_lock(&p.mu);
		s->state = SLOT_READY;
		p.next_fill++;
		pthread_cond_signal(&p.work);
		pthread_mutex_unlock(&p.mu);
	}

	pthread_mutex_lock(&p.mu);
	p.closing = 1;
	pthread_cond_broadcast(&p.work);
	while (!run->fatal && p.next_retire < p.next_fill) {
		drain(&p);
		if (p.next_retire < p.next_fill)
			pthread_cond_wait(&p.done, &p.mu);
	}
	pthread_mutex_unlock(&p.mu);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < p.nslots; i++) {
		smile_buf_release(&p.slots[i].in);
		smile_buf_release(&p.slots[i].out);
	}
	free(p.slots);
	pthread_cond_destroy(&p.work);
	pthread_cond_destroy(&p.done);
	pthread_mutex_destroy(&p.mu);
}

/* One thread: directory mode renders label by label, file mode is a batch. */
static void run_single(struct run *run, FILE *in)
{
	struct smile_label_renderer *r = NULL;
	struct smile_error e = {0};
	struct slot s;
	unsigned long line = 0;
	int batch = run->mode == OUT_FILE;
	char buf[300];

	memset(&s, 0, sizeof(s));
	if (smile_label_renderer_new(run->o.format, run->o.dpi, run->o.size, &r, &e)) {
		fprintf(stderr, PROG ": %s\n", smile_error_format(&e, buf, sizeof(buf)));
		run->fatal = 1;
		return;
	}
	if (batch && smile_label_batch_begin(r, smile_label_write_file, run->outf, &e)) {
		fprintf(stderr, PROG ": %s\n", smile_error_format(&e, buf, sizeof(buf)));
		run->fatal = 1;
		smile_label_renderer_free(r);
		return;
	}
	smile_buf_init(&s.in, SMILE_LABEL_RECORD_MAX);
	smile_buf_init(&s.out, SMILE_LABEL_OUTPUT_MAX);
	while (!run->fatal) {
		enum smile_err rd = smile_buf_getline(&s.in, in);
		if (rd == SMILE_ERR_NOT_FOUND)
			break;
		if (rd == SMILE_ERR_IO) {
			fprintf(stderr, PROG ": read error on %s\n", run->o.in);
			run->fatal = 1;
			break;
		}
		line++;
		run->lines = line;
		if (rd == SMILE_OK && is_blank(&s.in))
			continue;
		s.too_large = rd == SMILE_ERR_TOO_LARGE;
		s.line = line;
		if (!batch) {
			process(r, &s);
			retire(run, &s);
		} else {
			struct smile_label_record *rec = NULL;
			memset(&s.e, 0, sizeof(s.e));
			if (s.too_large)
				s.err = smile_error_set(&s.e, SMILE_ERR_TOO_LARGE, "record",
							"line longer than %d bytes",
							SMILE_LABEL_RECORD_MAX);
			else
				s.err = smile_label_record_parse(s.in.data, s.in.len, &rec, &s.e);
			if (s.err == SMILE_OK)
				s.err = smile_label_batch_add(r, rec, &s.e);
			smile_label_record_free(rec);
			if (s.err == SMILE_ERR_IO || s.err == SMILE_ERR_LABEL_RENDER ||
			    s.err == SMILE_ERR_NOMEM) {
				fprintf(stderr, PROG ": cannot write %s: %s\n", run->o.out,
					smile_error_format(&s.e, buf, sizeof(buf)));
				run->fatal = 1;
			} else if (s.err) {
				report(line, &s.e, s.err);
				run->failed++;
			} else {
				run->ok++;
			}
		}
		progress_show(&run->prog, line, run->ok, 0);
	}
	if (batch && smile_label_batch_end(r, &e) && !run->fatal) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", run->o.out,
			smile_error_format(&e, buf, sizeof(buf)));
		run->fatal = 1;
	}
	smile_buf_release(&s.in);
	smile_buf_release(&s.out);
	smile_label_renderer_free(r);
}

static int cmd_render(int argc, char **argv)
{
	static const struct option lo[] = {
		{"in", required_argument, NULL, 'i'},	 {"format", required_argument, NULL, 'f'},
		{"out", required_argument, NULL, 'o'},	 {"dpi", required_argument, NULL, 'd'},
		{"size", required_argument, NULL, 's'},	 {"jobs", required_argument, NULL, 'j'},
		{"stats", no_argument, NULL, 'T'},	 {"no-progress", no_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},	 {NULL, 0, NULL, 0},
	};
	struct run run;
	struct stat st;
	FILE *in;
	double t0, secs;
	int c;
	long v;

	memset(&run, 0, sizeof(run));
	run.o.dpi = 203;
	run.o.jobs = 1;
	run.o.size = SMILE_LABEL_100X150;
	while ((c = getopt_long(argc, argv, "i:f:o:d:s:j:h", lo, NULL)) != -1) {
		switch (c) {
		case 'i':
			run.o.in = optarg;
			break;
		case 'f':
			if (smile_label_format_parse(optarg, &run.o.format))
				die_usage(usage_render, "unknown format '%s' (png, pdf or zpl)", optarg);
			run.o.have_format = 1;
			break;
		case 'o':
			run.o.out = optarg;
			break;
		case 'd':
			if (parse_long(optarg, 1, 100000, &v) || !smile_label_dpi_supported((int)v))
				die_usage(usage_render, "unsupported dpi '%s' (203 or 300)", optarg);
			run.o.dpi = (int)v;
			break;
		case 's':
			if (smile_label_size_parse(optarg, &run.o.size))
				die_usage(usage_render,
					  "unknown size '%s' (100x150, 100x180 or 76x130)", optarg);
			break;
		case 'j':
			if (parse_long(optarg, 1, JOBS_MAX, &v))
				die_usage(usage_render, "--jobs '%s': need 1-64", optarg);
			run.o.jobs = (int)v;
			break;
		case 'T':
			run.o.stats = 1;
			break;
		case 'P':
			run.o.no_progress = 1;
			break;
		case 'h':
			fputs(usage_render, stdout);
			return 0;
		default:
			fprintf(stderr, "\n%s", usage_render);
			return EXIT_FATAL;
		}
	}
	if (optind < argc)
		die_usage(usage_render, "unexpected argument '%s'", argv[optind]);
	if (!run.o.in)
		die_usage(usage_render, "%s", "--in is required");
	if (!run.o.have_format)
		die_usage(usage_render, "%s", "--format is required");
	if (!run.o.out)
		die_usage(usage_render, "%s", "--out is required");

	/* where the labels go */
	{
		size_t n = strlen(run.o.out);
		int want_dir = n > 0 && run.o.out[n - 1] == '/';
		if (strcmp(run.o.out, "-") == 0) {
			run.mode = OUT_FILE;
			run.out_stdout = 1;
		} else if (stat(run.o.out, &st) == 0 && S_ISDIR(st.st_mode)) {
			run.mode = OUT_DIR;
		} else if (want_dir) {
			if (mkdir_p(run.o.out) != 0) {
				fprintf(stderr, PROG ": cannot create %s: %s\n", run.o.out,
					strerror(errno));
				return EXIT_FATAL;
			}
			run.mode = OUT_DIR;
		} else {
			run.mode = OUT_FILE;
		}
		if (run.mode == OUT_FILE && run.o.format == SMILE_LABEL_PNG)
			die_usage(usage_render,
				  "--out %s: a PNG holds one label; give a directory (end it in '/')",
				  run.o.out);
	}
	in = open_input(run.o.in);
	if (run.mode == OUT_FILE) {
		run.outf = run.out_stdout ? stdout : fopen(run.o.out, "wb");
		if (run.outf == NULL) {
			fprintf(stderr, PROG ": cannot create %s: %s\n", run.o.out, strerror(errno));
			return EXIT_FATAL;
		}
	}
	if (run.mode == OUT_FILE && run.o.format == SMILE_LABEL_PDF && run.o.jobs > 1) {
		fprintf(stderr, PROG ": note: one PDF file is drawn by one thread; "
				"--jobs %d applies to directory output\n",
			run.o.jobs);
		run.o.jobs = 1;
	}
	smile_buf_init(&run.path, 4096);
	run.prog.on = !run.o.no_progress && isatty(STDERR_FILENO);
	if (run.prog.on)
		run.prog.total = count_lines(in);
	t0 = now();
	run.prog.start = t0;
	if (run.o.jobs > 1)
		run_threads(&run, in);
	else
		run_single(&run, in);
	secs = now() - t0;
	progress_show(&run.prog, run.lines, run.ok, 1);

	if (in != stdin)
		fclose(in);
	if (run.mode == OUT_FILE && !run.out_stdout) {
		if (fclose(run.outf) != 0 && !run.fatal) {
			fprintf(stderr, PROG ": cannot write %s: %s\n", run.o.out, strerror(errno));
			run.fatal = 1;
		}
		if (run.ok == 0) /* a PDF cannot have zero pages: leave no file */
			unlink(run.o.out);
	} else if (run.out_stdout && fflush(stdout) != 0) {
		run.fatal = 1;
	}
	smile_buf_release(&run.path);
	if (run.failed)
		fprintf(stderr, PROG ": %lu of %lu records failed\n", run.failed,
			run.failed + run.ok);
	if (run.o.stats)
		fprintf(stderr, "%lu labels, %lu failed, %.1f s, %.0f labels/s, peak RSS %.1f MiB\n",
			run.ok, run.failed, secs, secs > 0 ? (double)run.ok / secs : 0.0,
			peak_rss_mib());
	if (run.fatal)
		return EXIT_FATAL;
	return run.failed ? EXIT_RECORDS : 0;
}

/* ------------------------------------------------------------ sample */

static int cmd_sample(int argc, char **argv)
{
	static const struct option lo[] = {
		{"count", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct smile_buf b;
	long count = 10;
	uint64_t seed = 1;
	int c;

	while ((c = getopt_long(argc, argv, "n:S:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_long(optarg, 0, 100000000L, &count))
				die_usage(usage_sample, "--count '%s': need 0-100000000", optarg);
			break;
		case 'S': {
			char *end;
			errno = 0;
			seed = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-')
				die_usage(usage_sample, "--seed '%s': need an unsigned integer",
					  optarg);
			break;
		}
		case 'h':
			fputs(usage_sample, stdout);
			return 0;
		default:
			fprintf(stderr, "\n%s", usage_sample);
			return EXIT_FATAL;
		}
	}
	if (optind < argc)
		die_usage(usage_sample, "unexpected argument '%s'", argv[optind]);
	smile_buf_init(&b, SMILE_LABEL_RECORD_MAX);
	for (long i = 0; i < count; i++) {
		smile_buf_reset(&b);
		if (smile_label_sample(seed, (uint64_t)i, &b) || smile_buf_puts(&b, "\n") ||
		    fwrite(b.data, 1, b.len, stdout) != b.len) {
			fprintf(stderr, PROG ": cannot write samples\n");
			smile_buf_release(&b);
			return EXIT_FATAL;
		}
	}
	smile_buf_release(&b);
	return fflush(stdout) == 0 ? 0 : EXIT_FATAL;
}

/* ------------------------------------------------------------ layout */

static int cmd_layout(int argc, char **argv)
{
	static const struct option lo[] = {
		{"in", required_argument, NULL, 'i'},	{"dpi", required_argument, NULL, 'd'},
		{"size", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *inpath = NULL;
	enum smile_label_size size = SMILE_LABEL_100X150;
	int dpi = 203, c, fatal = 0;
	long v;
	unsigned long line = 0, failed = 0;
	struct smile_label_renderer *r = NULL;
	struct smile_error e = {0};
	struct smile_buf in, out;
	char buf[300];
	FILE *f;

	while ((c = getopt_long(argc, argv, "i:d:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'i':
			inpath = optarg;
			break;
		case 'd':
			if (parse_long(optarg, 1, 100000, &v) || !smile_label_dpi_supported((int)v))
				die_usage(usage_layout, "unsupported dpi '%s' (203 or 300)", optarg);
			dpi = (int)v;
			break;
		case 's':
			if (smile_label_size_parse(optarg, &size))
				die_usage(usage_layout,
					  "unknown size '%s' (100x150, 100x180 or 76x130)", optarg);
			break;
		case 'h':
			fputs(usage_layout, stdout);
			return 0;
		default:
			fprintf(stderr, "\n%s", usage_layout);
			return EXIT_FATAL;
		}
	}
	if (optind < argc)
		die_usage(usage_layout, "unexpected argument '%s'", argv[optind]);
	if (!inpath)
		die_usage(usage_layout, "%s", "--in is required");
	f = open_input(inpath);
	if (smile_label_renderer_new(SMILE_LABEL_PNG, dpi, size, &r, &e)) {
		fprintf(stderr, PROG ": %s\n", smile_error_format(&e, buf, sizeof(buf)));
		return EXIT_FATAL;
	}
	smile_buf_init(&in, SMILE_LABEL_RECORD_MAX);
	smile_buf_init(&out, 1024 * 1024);
	for (;;) {
		struct smile_label_record *rec = NULL;
		enum smile_err err, rd = smile_buf_getline(&in, f);
		if (rd == SMILE_ERR_NOT_FOUND)
			break;
		if (rd == SMILE_ERR_IO) {
			fatal = 1;
			break;
		}
		line++;
		if (rd == SMILE_OK && is_blank(&in))
			continue;
		memset(&e, 0, sizeof(e));
		if (rd == SMILE_ERR_TOO_LARGE)
			err = smile_error_set(&e, SMILE_ERR_TOO_LARGE, "record",
					      "line longer than %d bytes", SMILE_LABEL_RECORD_MAX);
		else
			err = smile_label_record_parse(in.data, in.len, &rec, &e);
		smile_buf_reset(&out);
		if (!err)
			err = smile_label_layout_json(r, rec, &out, &e);
		smile_label_record_free(rec);
		if (err) {
			report(line, &e, err);
			failed++;
			continue;
		}
		printf("%s\n", out.data);
	}
	smile_buf_release(&in);
	smile_buf_release(&out);
	smile_label_renderer_free(r);
	if (f != stdin)
		fclose(f);
	if (fflush(stdout) != 0 || fatal)
		return EXIT_FATAL;
	return failed ? EXIT_RECORDS : 0;
}

/* ------------------------------------------------------------ print */

struct print_run {
	const char *in, *uri;
	struct smile_printer *p;
	struct smile_printer_opts po;
	enum smile_label_format format;
	enum smile_label_size size;
	int dpi, copies, have_format, stats, no_progress;
	unsigned long printed, failed, lines, unsent, held;
	int stopped; /* the printer stopped the batch */
	struct progress prog;
};

static void printer_report(unsigned long line, const char *waybill, const struct smile_error *e,
			   enum smile_err err)
{
	char buf[SMILE_ERROR_FIELD_MAX + SMILE_ERROR_MSG_MAX + 8];
	fprintf(stderr, PROG ": line %lu (waybill %s): %s [%s]\n", line, waybill,
		smile_error_format(e, buf, sizeof(buf)), smile_errname(err));
}

/* Parse, render, send and follow one record. Record errors count as failed;
 * a printer error stops the batch (pr->stopped). */
static void print_record(struct print_run *pr, struct smile_label_renderer *r,
			 unsigned long line, struct smile_buf *in, int too_large,
			 struct smile_buf *out)
{
	struct smile_label_record *rec = NULL;
	struct smile_printer_job job;
	struct smile_error e = {0};
	char waybill[64];
	enum smile_err err;

	smile_buf_reset(out);
	if (too_large)
		err = smile_error_set(&e, SMILE_ERR_TOO_LARGE, "record", "line longer than %d bytes",
				      SMILE_LABEL_RECORD_MAX);
	else
		err = smile_label_record_parse(in->data, in->len, &rec, &e);
	if (err == SMILE_OK) {
		snprintf(waybill, sizeof(waybill), "%s", smile_label_record_waybill(rec));
		err = smile_label_render(r, rec, out, &e);
	}
	smile_label_record_free(rec);
	if (err) {
		report(line, &e, err);
		pr->failed++;
		return;
	}
	err = smile_printer_send(pr->p, waybill, pr->format, (const unsigned char *)out->data,
				 out->len, pr->copies, &job, &e);
	if (err == SMILE_OK)
		err = smile_printer_job_wait(pr->p, &job, &e);
	if (err) {
		printer_report(line, waybill, &e, err);
		pr->stopped = 1;
		if (job.state == SMILE_PRINTER_JOB_NONE)
			pr->unsent++;
		else
			pr->held++; /* stopped in the printer or queue, or uncertain */
		return;
	}
	pr->printed++;
}

static void run_print(struct print_run *pr, FILE *f)
{
	struct smile_label_renderer *r = NULL;
	struct smile_error e = {0};
	struct smile_buf in, out;
	char buf[300];

	if (smile_label_renderer_new(pr->format, pr->dpi, pr->size, &r, &e)) {
		fprintf(stderr, PROG ": %s\n", smile_error_format(&e, buf, sizeof(buf)));
		pr->stopped = -1;
		return;
	}
	smile_buf_init(&in, SMILE_LABEL_RECORD_MAX);
	smile_buf_init(&out, SMILE_LABEL_OUTPUT_MAX);
	for (;;) {
		enum smile_err rd = smile_buf_getline(&in, f);
		if (rd == SMILE_ERR_NOT_FOUND)
			break;
		if (rd == SMILE_ERR_IO) {
			fprintf(stderr, PROG ": read error on %s\n", pr->in);
			pr->stopped = -1;
			break;
		}
		pr->lines++;
		if (rd == SMILE_OK && is_blank(&in))
			continue;
		if (pr->stopped) { /* count what the stop left unsent */
			pr->unsent++;
			continue;
		}
		print_record(pr, r, pr->lines, &in, rd == SMILE_ERR_TOO_LARGE, &out);
		progress_show(&pr->prog, pr->lines, pr->printed, 0);
	}
	smile_buf_release(&in);
	smile_buf_release(&out);
	smile_label_renderer_free(r);
}

static int cmd_print(int argc, char **argv)
{
	static const struct option lo[] = {
		{"in", required_argument, NULL, 'i'},	   {"printer", required_argument, NULL, 'p'},
		{"format", required_argument, NULL, 'f'},  {"copies", required_argument, NULL, 'c'},
		{"dpi", required_argument, NULL, 'd'},	   {"size", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'}, {"job-timeout", required_argument, NULL, 'J'},
		{"retries", required_argument, NULL, 'r'}, {"stats", no_argument, NULL, 'T'},
		{"no-progress", no_argument, NULL, 'P'},   {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct print_run pr;
	struct smile_error e = {0};
	char buf[300];
	double t0, secs;
	FILE *in;
	int c;
	long v;

	memset(&pr, 0, sizeof(pr));
	pr.dpi = 203;
	pr.copies = 1;
	pr.size = SMILE_LABEL_100X150;
	smile_printer_opts_default(&pr.po);
	while ((c = getopt_long(argc, argv, "i:p:f:c:d:s:t:r:h", lo, NULL)) != -1) {
		switch (c) {
		case 'i':
			pr.in = optarg;
			break;
		case 'p':
			pr.uri = optarg;
			break;
		case 'f':
			if (smile_label_format_parse(optarg, &pr.format))
				die_usage(usage_print, "unknown format '%s' (zpl, pdf or png)", optarg);
			pr.have_format = 1;
			break;
		case 'c':
			if (parse_long(optarg, 1, 999, &v))
				die_usage(usage_print, "--copies '%s': need 1-999", optarg);
			pr.copies = (int)v;
			break;
		case 'd':
			if (parse_long(optarg, 1, 100000, &v) || !smile_label_dpi_supported((int)v))
				die_usage(usage_print, "unsupported dpi '%s' (203 or 300)", optarg);
			pr.dpi = (int)v;
			break;
		case 's':
			if (smile_label_size_parse(optarg, &pr.size))
				die_usage(usage_print, "unknown size '%s' (100x150, 100x180 or 76x130)",
					  optarg);
			break;
		case 't':
			if (parse_long(optarg, 1, 3600000, &v))
				die_usage(usage_print, "--timeout '%s': need 1-3600000 ms", optarg);
			pr.po.connect_ms = pr.po.io_ms = (int)v;
			break;
		case 'J':
			if (parse_long(optarg, 1, 86400, &v))
				die_usage(usage_print, "--job-timeout '%s': need 1-86400 s", optarg);
			pr.po.job_ms = (int)v * 1000;
			break;
		case 'r':
			if (parse_long(optarg, 0, 100, &v))
				die_usage(usage_print, "--retries '%s': need 0-100", optarg);
			pr.po.retries = (int)v;
			break;
		case 'T':
			pr.stats = 1;
			break;
		case 'P':
			pr.no_progress = 1;
			break;
		case 'h':
			fputs(usage_print, stdout);
			return 0;
		default:
			fprintf(stderr, "\n%s", usage_print);
			return EXIT_FATAL;
		}
	}
	if (optind < argc)
		die_usage(usage_print, "unexpected argument '%s'", argv[optind]);
	if (!pr.in)
		die_usage(usage_print, "%s", "--in is required");
	if (!pr.uri)
		die_usage(usage_print, "%s", "--printer is required");
	if (smile_printer_open(pr.uri, &pr.po, &pr.p, &e))
		die_usage(usage_print, "%s", smile_error_format(&e, buf, sizeof(buf)));
	if (!pr.have_format)
		pr.format = smile_printer_default_format(pr.p);
	if (!smile_printer_accepts(pr.p, pr.format)) {
		smile_printer_free(pr.p);
		die_usage(usage_print, "--format %s: a socket printer takes zpl only",
			  smile_label_format_name(pr.format));
	}
	in = open_input(pr.in);
	pr.prog.on = !pr.no_progress && isatty(STDERR_FILENO);
	if (pr.prog.on)
		pr.prog.total = count_lines(in);
	t0 = now();
	pr.prog.start = t0;
	run_print(&pr, in);
	secs = now() - t0;
	progress_show(&pr.prog, pr.lines, pr.printed, 1);
	if (in != stdin)
		fclose(in);
	smile_printer_free(pr.p);
	if (pr.failed)
		fprintf(stderr, PROG ": %lu of %lu records failed\n", pr.failed,
			pr.failed + pr.printed + (pr.stopped > 0));
	if (pr.stopped > 0)
		fprintf(stderr, PROG ": %s stopped the batch: %lu printed, %lu held or uncertain, "
				"%lu not sent\n",
			pr.uri, pr.printed, pr.held, pr.unsent);
	if (pr.stats)
		fprintf(stderr, "%lu printed, %lu failed, %.1f s, %.1f labels/s\n", pr.printed,
			pr.failed, secs, secs > 0 ? (double)pr.printed / secs : 0.0);
	if (pr.stopped < 0)
		return EXIT_FATAL;
	if (pr.stopped)
		return EXIT_PRINTER;
	return pr.failed ? EXIT_RECORDS : 0;
}

/* ------------------------------------------------------------ printers */

static void list_one(void *arg, const struct smile_printer_queue *q)
{
	(void)arg;
	printf("%s\t%s%s\n", q->uri, q->status.flags ? "not ready: " : "", q->status.reasons);
	if (q->is_default)
		printf("%s\tdefault\n", q->uri);
}

static int cmd_printers(int argc, char **argv)
{
	static const struct option lo[] = {
		{"probe", required_argument, NULL, 'P'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct smile_printer_opts po;
	struct smile_printer_status st;
	struct smile_printer *p = NULL;
	struct smile_error e = {0};
	const char *probe = NULL;
	char buf[300];
	enum smile_err err;
	int c;
	long v;

	smile_printer_opts_default(&po);
	while ((c = getopt_long(argc, argv, "P:t:h", lo, NULL)) != -1) {
		switch (c) {
		case 'P':
			probe = optarg;
			break;
		case 't':
			if (parse_long(optarg, 1, 3600000, &v))
				die_usage(usage_printers, "--timeout '%s': need 1-3600000 ms", optarg);
			po.connect_ms = po.io_ms = (int)v;
			break;
		case 'h':
			fputs(usage_printers, stdout);
			return 0;
		default:
			fprintf(stderr, "\n%s", usage_printers);
			return EXIT_FATAL;
		}
	}
	if (optind < argc)
		die_usage(usage_printers, "unexpected argument '%s'", argv[optind]);
	if (probe == NULL) {
		err = smile_printer_list(list_one, NULL, &e);
		if (err) {
			fprintf(stderr, PROG ": %s [%s]\n", smile_error_format(&e, buf, sizeof(buf)),
				smile_errname(err));
			return EXIT_PRINTER;
		}
		return fflush(stdout) == 0 ? 0 : EXIT_FATAL;
	}
	po.retries = 0;
	if (smile_printer_open(probe, &po, &p, &e))
		die_usage(usage_printers, "%s", smile_error_format(&e, buf, sizeof(buf)));
	err = smile_printer_status(p, &st, &e);
	smile_printer_free(p);
	if (err) {
		fprintf(stderr, PROG ": %s: %s [%s]\n", probe, smile_error_format(&e, buf, sizeof(buf)),
			smile_errname(err));
		return EXIT_PRINTER;
	}
	printf("%s: %s%s\n", probe, st.flags ? "not ready: " : "", st.reasons);
	return st.flags ? EXIT_PRINTER : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		fputs(usage_main, stderr);
		return EXIT_FATAL;
	}
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		const char *what = argc > 2 ? argv[2] : "";
		fputs(strcmp(what, "render") == 0   ? usage_render
		      : strcmp(what, "sample") == 0 ? usage_sample
		      : strcmp(what, "layout") == 0 ? usage_layout
		      : strcmp(what, "print") == 0 ? usage_print
		      : strcmp(what, "printers") == 0 ? usage_printers
						    : usage_main,
		      stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		puts(PROG " 0.1.0");
		return 0;
	}
	/* the command's own options start after its name */
	if (strcmp(cmd, "render") == 0)
		return cmd_render(argc - 1, argv + 1);
	if (strcmp(cmd, "sample") == 0)
		return cmd_sample(argc - 1, argv + 1);
	if (strcmp(cmd, "layout") == 0)
		return cmd_layout(argc - 1, argv + 1);
	if (strcmp(cmd, "print") == 0)
		return cmd_print(argc - 1, argv + 1);
	if (strcmp(cmd, "printers") == 0)
		return cmd_printers(argc - 1, argv + 1);
	fprintf(stderr, PROG ": unknown command '%s'\n\n%s", cmd, usage_main);
	return EXIT_FATAL;
}
