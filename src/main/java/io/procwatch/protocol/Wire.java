package io.procwatch.protocol;

/**
 * The numbers of the procwatch protocol (docs/protocol.md): message types, header flags,
 * attribute types, error codes. All integers are little-endian.
 *
 * <pre>
 * message   = header attribute*
 * header    = length u32 | type u16 | flags u16 | seq u32 | reserved u32      (16 bytes)
 * attribute = length u16 | type u16 | payload | zero padding to a multiple of 4
 * </pre>
 * {@code length} counts the header (message) or the attribute header and payload (attribute),
 * never the padding of the last attribute. Receivers skip attribute and message types they do not
 * know, so either side can add new ones.
 */
public final class Wire {
    public static final int VERSION = 1;
    public static final int HEADER = 16;
    /** The largest request a daemon accepts; replies may be larger (one process per message). */
    public static final int MAX_REQUEST = 64 * 1024;
    public static final int MAX_MESSAGE = 4 * 1024 * 1024;

    // message types: requests
    public static final int HELLO = 1;
    public static final int SNAPSHOT = 2;
    public static final int SUBSCRIBE = 3;
    public static final int HISTORY = 4;
    public static final int WAIT = 5;
    public static final int STATS = 6;
    /** Run a CLI command inside the daemon for a thin client; the connection then carries only that run. */
    public static final int RUN = 7;
    /** During a RUN: end it now (as if the client had hung up, but EXIT still comes). */
    public static final int CANCEL = 8;
    /**
     * During a RUN sent with A_INPUT: key bytes for the command (R_DATA, at most MAX_INPUT; empty =
     * the client's input ended). Interactive top reads them instead of a terminal.
     */
    public static final int STDIN = 9;
    /** During a RUN sent with A_INPUT: the client's terminal changed size (A_WINSIZE). */
    public static final int WINSIZE = 10;
    /** The most key bytes one STDIN carries; a bigger one ends the run with E_TOO_LARGE. */
    public static final int MAX_INPUT = 4096;
    // message types: replies
    public static final int HELLO_REPLY = 16;
    public static final int PROCESS = 17;
    public static final int EVENT = 18;
    public static final int EXITED = 19;
    public static final int DONE = 20;
    public static final int ERROR = 21;
    public static final int LOSS = 22;
    public static final int STATS_REPLY = 23;
    /** HISTORY: a time when no daemon was recording exits (persistent history only). */
    public static final int GAP = 24;
    /** SNAPSHOT with F_DELTA: pids (P_PID, repeated) that were in the previous answer and are not now. */
    public static final int GONE = 25;
    /** RUN: bytes the command wrote to its standard output (R_DATA). */
    public static final int STDOUT = 26;
    /** RUN: bytes the command wrote to its standard error (R_DATA). */
    public static final int STDERR = 27;
    /** RUN: the command finished with R_EXIT_STATUS; the daemon closes the connection after it. */
    public static final int EXIT = 28;

    // header flags
    /** SNAPSHOT: re-sample the selected processes before answering. */
    public static final int F_FRESH = 1;
    /** SNAPSHOT: one PROCESS message per thread instead of per process. */
    public static final int F_THREADS = 2;
    /** HISTORY: only exits with a non-zero code or a signal. */
    public static final int F_FAILED = 4;
    /**
     * SNAPSHOT: send only what changed since this connection's previous SNAPSHOT, if that one had
     * F_DELTA too and the same selector and groups (DONE then carries R_DELTA); else a full answer.
     * Not for F_THREADS.
     */
    public static final int F_DELTA = 8;

    // request attributes
    public static final int A_VERSION = 1;
    public static final int A_CLIENT = 2;
    public static final int A_GROUPS = 3;         // u64 bitmask of Groups
    public static final int A_SELECTOR = 4;       // nested selector attributes
    public static final int A_EVENT_MASK = 5;     // u32 EventType bits
    public static final int A_SINCE_MS = 6;       // u64 epoch ms
    public static final int A_UNTIL_MS = 7;       // u64 epoch ms
    public static final int A_LIMIT = 8;          // u32
    public static final int A_WAIT_PID = 9;       // u32, repeated
    public static final int A_TIMEOUT_MS = 10;    // u32
    public static final int A_SAMPLE_INTERVAL_MS = 11; // u32: SUBSCRIBE asks the daemon to sample this often
    public static final int A_ARG = 12;           // RUN: string, repeated: argv after the program name
    public static final int A_ENV = 13;           // RUN: string NAME=VALUE, repeated
    public static final int A_TERMINAL = 14;      // RUN: u32 bits: 1 stdin, 2 stdout, 4 stderr is a terminal
    public static final int A_WINSIZE = 15;       // RUN: u32 columns << 16 | rows, 0 if not a terminal
    public static final int A_CTTY = 16;          // RUN: u32 controlling terminal's device number (0 none)
    public static final int A_INPUT = 22;         // RUN: flag: the client sends STDIN and WINSIZE (its terminal is raw)
    /** SNAPSHOT: strings, /proc items to send with each process (procfs.ProcItems names them), at most 64. */
    public static final int A_ITEMS = 20;
    /** SNAPSHOT: u64 epoch ms: the table as it was then, from the journal (docs/journal.md). */
    public static final int A_AT_MS = 21;

    // selector attributes (inside A_SELECTOR); several kinds AND, repeated values of one kind OR
    public static final int S_ALL = 1;            // empty
    public static final int S_PID = 2;            // u32, repeated
    public static final int S_CHILDREN_OF = 3;    // u32: direct children
    public static final int S_SUBTREE_OF = 4;     // u32: the process and all descendants
    public static final int S_UID = 5;            // u32, repeated
    public static final int S_STATE = 6;          // string of state letters, e.g. "RD"
    public static final int S_NAME = 7;           // string: exact comm
    public static final int S_MATCH = 8;          // string: substring of comm or command line
    public static final int S_CGROUP = 12;        // string, repeated: a cgroup path from /, and everything below it
    public static final int S_CONTAINER = 13;     // string, repeated: container id prefix, runtime:shortid, or LXC name
    public static final int S_UNIT = 14;          // string, repeated: systemd unit or user unit
    public static final int S_NAMESPACE = 20;     // string, repeated: TYPE:INODE (protocol.Namespaces), e.g. net:4026531840
    public static final int S_THREADS_OF = 9;     // u32: the threads of one process

    // process and event attributes (in PROCESS, EVENT and EXITED)
    public static final int P_PID = 1;
    public static final int P_PPID = 2;
    public static final int P_PGRP = 3;
    public static final int P_SID = 4;
    public static final int P_TTY = 5;
    public static final int P_TPGID = 6;
    public static final int P_STATE = 7;          // u8 state letter
    public static final int P_COMM = 8;
    public static final int P_NLWP = 9;
    public static final int P_START_MS = 10;      // u64 epoch ms
    public static final int P_TID = 11;
    public static final int P_START_TICKS = 12;   // u64 clock ticks since boot (/proc/PID/stat field 22), as procps computes times from
    public static final int P_RUID = 20;
    public static final int P_EUID = 21;
    public static final int P_RGID = 22;
    public static final int P_EGID = 23;
    public static final int P_TRACER = 24;
    public static final int P_ARGV = 30;          // NUL-separated arguments
    public static final int P_ARGV_UNKNOWN = 31;  // flag: the command line could not be read
    public static final int P_EXE = 40;
    public static final int P_CWD = 41;
    public static final int P_UTIME = 50;         // u64 clock ticks
    public static final int P_STIME = 51;
    public static final int P_VSIZE = 52;         // u64 bytes
    public static final int P_RSS_KIB = 53;
    public static final int P_MINFLT = 54;
    public static final int P_MAJFLT = 55;
    public static final int P_PRIORITY = 56;      // i32
    public static final int P_NICE = 57;          // i32
    public static final int P_PROCESSOR = 58;
    /** u64 KiB of locked memory (status VmLck), sent in STAT only when above 0 (ps STAT 'L'). */
    public static final int P_LOCKED_KIB = 59;
    public static final int P_IO_RCHAR = 60;
    public static final int P_IO_WCHAR = 61;
    public static final int P_IO_READ_BYTES = 62;
    public static final int P_IO_WRITE_BYTES = 63;
    public static final int P_TS_UTIME_US = 70;
    public static final int P_TS_STIME_US = 71;
    public static final int P_TS_MAXRSS_KIB = 72;
    public static final int P_TS_READ_BYTES = 73;
    public static final int P_TS_WRITE_BYTES = 74;
    public static final int P_TS_NVCSW = 75;
    public static final int P_TS_NIVCSW = 76;
    public static final int P_CGROUP = 80;
    public static final int P_WCHAN = 81;
    /** The A_ITEMS asked for, as strings name, value, name, value...; unreadable or private ones left out. */
    public static final int P_ITEMS = 85;
    /**
     * SNAPSHOT with A_AT_MS: u64 ms, how old the row's sampled values (CPU, memory, state...) were
     * at the instant, all ones if the journal never dated them (docs/journal.md).
     */
    public static final int P_SAMPLED_AGE_MS = 86;
    /** SNAPSHOT with A_AT_MS: flag, those values are older than the journal's sample interval (or never dated). */
    public static final int P_SAMPLED_STALE = 87;
    // exit and event attributes
    public static final int E_KIND = 90;          // u32 EventType bit, or 0 for "resynced"
    public static final int E_TIME_MS = 91;       // u64 epoch ms of the event
    public static final int E_STATUS = 92;        // u32 raw wait status
    public static final int E_END_MS = 93;        // u64 epoch ms
    public static final int E_EXIT_UNOBSERVED = 94; // flag
    public static final int E_CORE = 95;          // flag
    public static final int E_SEQ = 96;           // u64 history sequence
    public static final int E_THREAD = 97;        // flag: the event is about a thread (tid in P_TID)

    // reply attributes
    public static final int R_COUNT = 1;          // u32
    public static final int R_TIME_MS = 2;        // u64 epoch ms of the snapshot
    public static final int R_SAMPLE_AGE_MS = 3;  // u64, or all ones if never sampled
    public static final int R_ERROR_CODE = 4;     // u32
    public static final int R_ERROR_TEXT = 5;
    public static final int R_DAEMON_VERSION = 6;
    public static final int R_CAPABILITIES = 7;   // u64: bit n set = request type n supported
    public static final int R_LOST = 8;           // u64: events lost
    public static final int R_STAT = 9;           // nested: R_STAT_NAME + R_STAT_VALUE
    public static final int R_STAT_NAME = 10;
    public static final int R_STAT_VALUE = 11;    // u64 (signed where it says so)
    public static final int R_PEER_UID = 12;      // u32: who the daemon thinks the client is
    public static final int R_GAP_FROM_MS = 13;   // u64 epoch ms: GAP starts (the earlier daemon's last sign of life)
    public static final int R_GAP_UNTIL_MS = 14;  // u64 epoch ms: GAP ends (the next daemon started)
    public static final int R_GAP_CLEAN = 15;     // flag: the earlier daemon was stopped, not killed
    public static final int R_DELTA = 16;         // flag in DONE: the answer holds only changes (F_DELTA)
    public static final int R_DATA = 17;          // bytes: STDOUT / STDERR payload
    public static final int R_EXIT_STATUS = 18;   // u32: EXIT's status (0 to 255)

    // error codes
    public static final int E_MALFORMED = 1;
    public static final int E_UNKNOWN_REQUEST = 2;
    public static final int E_TOO_LARGE = 3;
    public static final int E_BAD_ARGUMENT = 4;
    public static final int E_BUSY = 5;
    public static final int E_NOT_FOUND = 6;
    public static final int E_INTERNAL = 7;
    public static final int E_TIMEOUT = 8;

    private Wire() {
    }

    public static int align(int n) {
        return (n + 3) & ~3;
    }
}
