package io.procwatch.cli;

import io.procwatch.cgroup.CgroupGroups;
import io.procwatch.event.Signals;
import io.procwatch.sys.ProcessControl;
import io.procwatch.sys.SyscallException;

import java.io.File;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The interactive top: a full screen redrawn at each refresh, keys read one at a time, resized
 * with the terminal (SIGWINCH).
 *
 * <p>What it needs from the terminal is small: no echo and no line buffering (stty, set once and
 * restored on every way out), the window size (one ioctl) and a few VT100 sequences every
 * terminal and ssh session understands (home, clear to end of line, reverse video, alternate
 * screen). A terminal library would add half a megabyte to the client for these.
 */
final class TopTerminal {
    private static final int RESIZE = RemoteTerminal.RESIZE;
    private static final int EOF = RemoteTerminal.EOF;
    private static final int UP = -10;
    private static final int DOWN = -11;
    private static final int PAGE_UP = -12;
    private static final int PAGE_DOWN = -13;
    private static final int HOME = -14;
    private static final int END = -15;
    private static final int SUMMARY_LINES = 7;
    /**
     * Inside the daemon, top runs as root: a signal or renice from there would not be the user's
     * own (the kernel's permission check is the thing to keep), so they stay with the JVM client.
     */
    static final String NOT_REMOTE = "k and r need the JVM client: PROCWATCH_NO_NATIVE=1 procwatch top";

    private final TopModel model;
    private final TopView view;
    private final PrintStream out;
    /** Keys as they come: from this JVM's terminal, or from a thin client's (remote). */
    private final BlockingQueue<Integer> keys;
    /** A thin client's terminal when top runs inside the daemon (RunSession), else null. */
    private final RemoteTerminal remote;
    private long delayMs;
    private int iterationsLeft;
    private TopModel.Frame frame;
    /** Formatting context of the current frame (it reads /proc: once per refresh, not per key). */
    private Fields.Ctx ctx;
    private List<TopView.Row> rows = List.of();
    /** The group view's fold (g), and its groups of the current frame; null when showing processes. */
    private TopGroups grouping;
    private List<TopGroups.Group> groups = List.of();
    private String message = "";

    private TopTerminal(TopModel model, TopCommand.Options o, PrintStream out, RemoteTerminal remote) {
        this.model = model;
        this.remote = remote;
        // bounded as the remote one is: keys beyond it are dropped (nobody types 4096 keys a refresh)
        this.keys = remote != null ? remote.keys : new LinkedBlockingQueue<>(RemoteTerminal.CAPACITY + 2);
        this.view = o.view();
        this.out = out;
        this.delayMs = o.delayMs();
        this.iterationsLeft = o.iterations();
        this.grouping = view.groupBy == null ? null : new TopGroups(view.groupBy);
    }

    static int run(TopModel model, TopCommand.Options o, PrintStream out, PrintStream err)
            throws IOException, InterruptedException {
        RemoteTerminal remote = RemoteTerminal.current();
        if (remote != null) {
            return runRemote(model, o, out, err, remote);
        }
        if (System.console() == null || ProcessControl.windowSize(1) == null) {
            err.println("procwatch top: not a terminal; use batch mode (procwatch top -b)");
            return 2;
        }
        String saved = stty("-g").trim();
        Thread restore = new Thread(() -> leave(out, saved));
        Runtime.getRuntime().addShutdownHook(restore); // Ctrl-C, SIGTERM: leave the terminal usable
        try {
            stty("-icanon", "-echo", "min", "1", "time", "0");
            out.print("\033[?1049h\033[?25l"); // alternate screen, hide the cursor
            out.flush();
            TopTerminal t = new TopTerminal(model, o, out, null);
            t.startInput();
            sun.misc.Signal.handle(new sun.misc.Signal("WINCH"), s -> t.keys.offer(RESIZE));
            t.loop();
            return 0;
        } finally {
            leave(out, saved);
            try {
                Runtime.getRuntime().removeShutdownHook(restore);
            } catch (IllegalStateException ignored) {
                // already shutting down
            }
        }
    }

    /**
     * Inside the daemon for a thin client: the client has made its terminal raw and restores it
     * (on every way out, signals too); keys and sizes come from it. Nothing here may touch this
     * process's terminal, signal handlers or shutdown hooks: they are the daemon's.
     */
    private static int runRemote(TopModel model, TopCommand.Options o, PrintStream out, PrintStream err,
                                 RemoteTerminal remote) throws IOException, InterruptedException {
        if (!Invocation.current().consoleTerminal() || remote.size() == null) {
            err.println("procwatch top: not a terminal; use batch mode (procwatch top -b)");
            return 2;
        }
        try {
            out.print("\033[?1049h\033[?25l");
            out.flush();
            new TopTerminal(model, o, out, remote).loop();
            return 0;
        } finally {
            out.print("\033[?25h\033[?1049l");
            out.flush();
        }
    }

    private static void leave(PrintStream out, String saved) {
        out.print("\033[?25h\033[?1049l");
        out.flush();
        try {
            stty(saved);
        } catch (IOException | InterruptedException ignored) {
            // nothing more can be done for the terminal
        }
    }

    private static String stty(String... args) throws IOException, InterruptedException {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "stty";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).redirectInput(new File("/dev/tty"))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String text = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException("stty " + String.join(" ", args) + " failed");
        }
        return text;
    }

    /** Keys arrive on a thread of their own, so a refresh never waits for the keyboard or the reverse. */
    private void startInput() {
        Thread.ofPlatform().daemon(true).name("procwatch-top-keys").start(() -> {
            InputStream in = new FileInputStream(FileDescriptor.in);
            try {
                int c;
                while ((c = in.read()) >= 0) {
                    if (keys.remainingCapacity() > 2) { // room kept for EOF and a resize
                        keys.offer(c);
                    }
                }
            } catch (IOException ignored) {
                // terminal gone
            }
            try {
                keys.put(EOF); // waits for room: the end must not be lost to a full queue
            } catch (InterruptedException ignored) {
                // the JVM is ending
            }
        });
    }

    private void loop() throws IOException, InterruptedException {
        // like top: a short first interval, so the first screen already has %CPU and event rates
        refresh(); // read the groups' cpu.stat too, so the first screen has CG%CPU
        Thread.sleep(Math.min(delayMs, 300));
        while (true) {
            refresh();
            draw();
            if (iterationsLeft > 0 && --iterationsLeft == 0) {
                return;
            }
            long deadline = System.nanoTime() + delayMs * 1_000_000L;
            while (true) {
                long wait = deadline - System.nanoTime();
                Integer k = wait <= 0 ? null : keys.poll(wait, TimeUnit.NANOSECONDS);
                if (k == null) {
                    break; // time for the next refresh
                }
                Action a = handle(readKey(k));
                if (a == Action.QUIT) {
                    return;
                }
                if (a == Action.REFRESH) {
                    break;
                }
                rearrange();
                draw();
            }
        }
    }

    private enum Action { QUIT, REFRESH, REDRAW }

    /** Turns an escape sequence into one key code (arrows, pages); other bytes pass through. */
    private int readKey(int first) throws InterruptedException {
        if (first != 27) {
            return first;
        }
        Integer b = keys.poll(30, TimeUnit.MILLISECONDS);
        if (b == null || (b != '[' && b != 'O')) {
            return 27; // a lone Escape
        }
        Integer c = keys.poll(30, TimeUnit.MILLISECONDS);
        if (c == null) {
            return 27;
        }
        return switch (c) {
            case (int) 'A' -> UP;
            case (int) 'B' -> DOWN;
            case (int) 'H' -> HOME;
            case (int) 'F' -> END;
            case (int) '5', (int) '6', (int) '1', (int) '4' -> {
                keys.poll(30, TimeUnit.MILLISECONDS); // the closing '~'
                yield c == '5' ? PAGE_UP : c == '6' ? PAGE_DOWN : c == '1' ? HOME : END;
            }
            default -> 0;
        };
    }

    private Action handle(int k) throws InterruptedException {
        message = "";
        if (model.replay() != null) {
            Action a = replayKey(k);
            if (a != null) {
                return a;
            }
        }
        switch (k) {
            case EOF, 'q', 'Q' -> {
                return Action.QUIT;
            }
            case RESIZE -> {
                return Action.REDRAW;
            }
            case 'P' -> sortBy("%CPU");
            case 'M' -> sortBy("%MEM");
            case 'T' -> sortBy("TIME+");
            case 'N' -> sortBy("PID");
            case '<' -> view.moveSort(-1);
            case '>' -> view.moveSort(1);
            case 'R' -> view.ascending = !view.ascending;
            case 'V' -> view.tree = !view.tree;
            case 'g' -> {
                // off -> cgroup -> unit -> container -> off
                CgroupGroups.By[] all = CgroupGroups.By.values();
                view.groupBy = view.groupBy == null ? all[0]
                        : view.groupBy.ordinal() + 1 < all.length ? all[view.groupBy.ordinal() + 1] : null;
                grouping = view.groupBy == null ? null : new TopGroups(view.groupBy);
                if (view.groupBy != null && view.threads) {
                    view.threads = false; // a group counts its processes' threads (TASKS)
                }
                if (view.groupBy == null && !TopView.COLUMNS.containsKey(view.sortColumn)) {
                    view.sortColumn = "%CPU"; // a group column (CGMEM...) means nothing for processes
                }
                view.scroll = 0;
                message = view.groupBy == null ? "Group view Off" : "Group by " + view.groupBy.label();
                return Action.REFRESH;
            }
            case 'H' -> {
                if (grouping != null) {
                    message = "Threads do not mix with the group view (g to leave it)";
                    return Action.REDRAW;
                }
                view.threads = !view.threads;
                message = view.threads ? "Show threads On" : "Show threads Off";
                return Action.REFRESH;
            }
            case 'c' -> {
                view.cmdline = !view.cmdline;
                return Action.REFRESH;
            }
            case 'u', 'U' -> {
                String u = prompt("Which user (blank for all): ");
                if (u == null) {
                    return Action.REDRAW;
                }
                if (u.isBlank()) {
                    view.uid = null;
                    view.userText = "";
                } else {
                    int uid = Names.uid(u.trim());
                    if (uid == -1) { // uids above 2^31 are negative ints here; -1 is no user
                        message = "Unknown user '" + u.trim() + "'";
                        return Action.REDRAW;
                    }
                    view.uid = uid;
                    view.userText = u.trim();
                }
                view.scroll = 0;
                return Action.REFRESH;
            }
            case 'o', 'O', '/' -> {
                String f = prompt("Filter (text, or COLUMN=text, COLUMN>n, COLUMN<n; blank clears): ");
                if (f != null) {
                    view.filter = f.trim();
                    view.scroll = 0;
                }
            }
            case '=' -> {
                view.filter = "";
                view.scroll = 0;
                if (view.uid != null) {
                    view.uid = null;
                    view.userText = "";
                    return Action.REFRESH;
                }
            }
            case 'k' -> kill();
            case 'r' -> renice();
            case 'd', 's' -> {
                String d = prompt(String.format(Locale.ROOT, "Change delay from %.1f to: ", delayMs / 1000.0));
                if (d != null && !d.isBlank()) {
                    try {
                        delayMs = TopCommand.delay(d.trim());
                    } catch (UsageException e) {
                        message = e.getMessage();
                    }
                }
            }
            case 'h', '?' -> {
                help();
            }
            case ' ' -> {
                return Action.REFRESH;
            }
            case UP -> view.scroll = Math.max(0, view.scroll - 1);
            case DOWN -> view.scroll = Math.min(Math.max(0, shownCount() - 1), view.scroll + 1);
            case PAGE_UP -> view.scroll = Math.max(0, view.scroll - listHeight());
            case PAGE_DOWN -> view.scroll = Math.min(Math.max(0, shownCount() - 1), view.scroll + listHeight());
            case HOME -> view.scroll = 0;
            case END -> view.scroll = Math.max(0, shownCount() - listHeight());
            default -> {
                if (k > 0) {
                    message = "Unknown command - try 'h' for help";
                }
            }
        }
        return Action.REDRAW;
    }

    private void sortBy(String column) {
        if (view.sortColumn.equals(column)) {
            view.ascending = !view.ascending; // pressing it again reverses, as in htop
        } else {
            view.sortColumn = column;
            view.ascending = false;
        }
    }

    private int firstPid() {
        return rows.isEmpty() ? -1 : rows.get(Math.min(view.scroll, rows.size() - 1)).row().id();
    }

    /** k: pid (default: the top row), then the signal; a blank or Escape at any step cancels. */
    private void kill() throws InterruptedException {
        if (remote != null) {
            message = NOT_REMOTE;
            return;
        }
        int pid = askPid("PID to signal/kill");
        if (pid <= 0) {
            return;
        }
        String s = prompt("Send pid " + pid + " signal [15/sigterm]: ");
        if (s == null) {
            message = "Kill cancelled";
            return;
        }
        int sig = s.isBlank() ? 15 : Signals.number(s);
        if (sig <= 0) {
            message = "Unknown signal '" + s.trim() + "'";
            return;
        }
        try {
            message = signalShown(pid, sig);
        } catch (SyscallException e) {
            message = "Failed signal pid '" + pid + "' with " + sig + ": " + e.getMessage();
        }
    }

    /**
     * Signals the process the screen showed as {@code pid}, not whatever has that pid now: a pidfd
     * pins the process it was opened for, and the start time checked after opening it says whether
     * that is still the one on screen (it may have exited, and its pid gone to another process, since
     * the refresh). Threads (H) and pids not on screen are signalled by pid, as top does.
     */
    /** The process row on screen with this pid (not a thread's), or null. */
    private io.procwatch.client.ProcRow shownProcess(int pid) {
        for (TopView.Row r : rows) {
            if (r.row().id() == pid && r.row().tid <= 0) {
                return r.row();
            }
        }
        return null;
    }

    private static boolean sameLife(int pid, io.procwatch.client.ProcRow shown) {
        var now = io.procwatch.procfs.ProcFs.system().stat(pid);
        return now.isPresent() && now.get().starttime() == shown.startTicks;
    }

    private String signalShown(int pid, int sig) throws SyscallException {
        io.procwatch.client.ProcRow shown = shownProcess(pid);
        if (shown == null || shown.startTicks <= 0) {
            ProcessControl.kill(pid, sig);
            return "Sent " + Signals.name(sig) + " to " + pid;
        }
        int fd = ProcessControl.pidfdOpen(pid);
        try {
            if (!sameLife(pid, shown)) {
                return "PID " + pid + " is not the process shown any more (it exited; the pid may be another's now): nothing sent";
            }
            ProcessControl.pidfdSignal(fd, sig);
            return "Sent " + Signals.name(sig) + " to " + pid;
        } finally {
            io.procwatch.sys.Libc.closeQuietly(fd);
        }
    }

    private void renice() throws InterruptedException {
        if (remote != null) {
            message = NOT_REMOTE;
            return;
        }
        int pid = askPid("PID to renice");
        if (pid <= 0) {
            return;
        }
        String v = prompt("Renice PID " + pid + " to value: ");
        if (v == null || v.isBlank()) {
            message = "Renice cancelled";
            return;
        }
        try {
            int nice = Integer.parseInt(v.trim());
            io.procwatch.client.ProcRow shown = shownProcess(pid);
            if (shown != null && shown.startTicks > 0 && !sameLife(pid, shown)) {
                message = "PID " + pid + " is not the process shown any more (it exited; the pid may be another's now): not reniced";
                return;
            }
            // setpriority has no pidfd form: the start time is checked just before (a pid reused in
            // the microseconds between the check and the call is the one race left)
            ProcessControl.renice(pid, nice);
            message = "Reniced " + pid + " to " + nice;
        } catch (NumberFormatException e) {
            message = "Not a number: '" + v.trim() + "'";
        } catch (SyscallException e) {
            message = "Failed renice of PID " + pid + " to " + v.trim() + ": " + e.getMessage();
        }
    }

    private int askPid(String what) throws InterruptedException {
        int def = firstPid();
        String p = prompt(what + " [default pid = " + def + "]: ");
        if (p == null) {
            message = "Cancelled";
            return -1;
        }
        if (p.isBlank()) {
            return def;
        }
        try {
            return Integer.parseInt(p.trim());
        } catch (NumberFormatException e) {
            message = "Not a pid: '" + p.trim() + "'";
            return -1;
        }
    }

    /** Reads a line on the message row; null when cancelled with Escape. */
    private String prompt(String text) throws InterruptedException {
        StringBuilder sb = new StringBuilder();
        while (true) {
            message = text + sb;
            draw();
            int k = readKey(keys.take());
            switch (k) {
                case '\n', '\r' -> {
                    message = "";
                    return sb.toString();
                }
                case 27, EOF -> {
                    message = "";
                    return null;
                }
                case 127, 8 -> {
                    if (!sb.isEmpty()) {
                        sb.setLength(sb.length() - 1);
                    }
                }
                case RESIZE -> {
                    // redrawn at the top of the loop
                }
                default -> {
                    if (k >= 32 && sb.length() < 200) {
                        sb.append((char) k);
                    }
                }
            }
        }
    }

    private void help() throws InterruptedException {
        int[] size = size();
        StringBuilder sb = new StringBuilder("\033[H");
        String[] lines = ("procwatch top " + "- keys\n\n" + TopCommand.HELP.substring(TopCommand.HELP.indexOf("Keys")))
                .split("\n");
        for (int i = 0; i < size[0] - 1 && i < lines.length; i++) {
            sb.append(cut(lines[i], size[1])).append("\033[K\r\n");
        }
        sb.append("\033[J\033[7mPress any key to continue\033[m");
        out.print(sb);
        out.flush();
        if (keys.take() == EOF) {
            keys.offer(EOF);
        }
    }

    /** top --replay (TopReplay): t / T one interval on / back, g a time to go to; null for other keys. */
    private Action replayKey(int k) throws InterruptedException {
        TopReplay r = model.replay();
        switch (k) {
            case 't' -> r.step(1);
            case 'T' -> r.step(-1);
            case 'g' -> {
                String w = prompt("Go to time (10m, 2h, \"yyyy-MM-dd HH:mm:ss\", @EPOCH): ");
                if (w == null || w.isBlank() || !r.go(w.trim())) {
                    return Action.REDRAW;
                }
            }
            default -> {
                return null;
            }
        }
        return Action.REFRESH;
    }

    private void refresh() throws IOException {
        frame = model.refresh(view.selector(), view.threads, view.cmdline, grouping != null);
        ctx = Fields.Ctx.current();
        rows = view.arrange(frame.rows(), ctx);
        // the group files are read here, once per refresh, for the groups in the view only
        groups = grouping == null ? List.of() : grouping.fold(rows, view.sortColumn, view.ascending);
        view.scroll = Math.min(view.scroll, Math.max(0, shownCount() - 1));
    }

    /** After a key: sorted and filtered again, without reading anything (the group files wait for the refresh). */
    private void rearrange() {
        if (frame != null) {
            rows = view.arrange(frame.rows(), ctx);
            if (grouping != null) {
                groups = grouping.refold(rows, view.sortColumn, view.ascending);
            }
            view.scroll = Math.min(view.scroll, Math.max(0, shownCount() - 1));
        }
    }

    private int shownCount() {
        return grouping != null ? groups.size() : rows.size();
    }

    private int[] size() {
        int[] s = remote != null ? remote.size() : ProcessControl.windowSize(1);
        return s == null ? new int[] {24, 80} : s;
    }

    private int listHeight() {
        return Math.max(1, size()[0] - SUMMARY_LINES - 2);
    }

    /** One full screen, written at once: home, each line cleared to its end, the rest cleared. */
    private void draw() {
        if (frame == null) {
            return;
        }
        int[] size = size();
        int height = size[0];
        int width = size[1];
        StringBuilder sb = new StringBuilder(8192).append("\033[H");
        int used = 0;
        for (String line : TopScreen.summary(frame, width, false)) {
            if (used >= height - 2) {
                break;
            }
            sb.append(cut(line, width)).append("\033[K\r\n");
            used++;
        }
        String status = message.isEmpty() ? statusLine() : message;
        if (model.replay() != null && message.isEmpty()) {
            status = model.replay().status() + "  " + status; // the instant shown, then the sort and filters
        }
        sb.append(cut(status, width)).append("\033[K\r\n");
        used++;
        List<Columns.Col> cols = view.columns();
        String header = grouping != null ? TopGroups.header() : Columns.header(cols);
        sb.append("\033[7m").append(pad(cut(header, width), width)).append("\033[m");
        used++;
        if (grouping != null) {
            for (int i = view.scroll; i < groups.size() && used < height; i++, used++) {
                sb.append("\r\n").append(cut(TopGroups.line(groups.get(i), model.hz()), width)).append("\033[K");
            }
        }
        for (int i = view.scroll; grouping == null && i < rows.size() && used < height; i++, used++) {
            TopView.Row r = rows.get(i);
            sb.append("\r\n").append(cut(Columns.row(cols, r.row(), ctx, r.treePrefix()), width)).append("\033[K");
        }
        sb.append("\033[J");
        out.print(sb);
        out.flush();
    }

    /** What is in effect, when nothing else needs saying. */
    private String statusLine() {
        StringBuilder sb = new StringBuilder();
        sb.append("Sort: ").append(view.sortColumn).append(view.ascending ? " (lowest first)" : "");
        if (view.uid != null) {
            sb.append("  User: ").append(view.userText);
        }
        if (!view.filter.isEmpty()) {
            sb.append("  Filter: ").append(view.filter);
        }
        if (view.tree) {
            sb.append("  Tree");
        }
        if (view.threads) {
            sb.append("  Threads");
        }
        if (grouping != null) {
            sb.append("  Group: ").append(grouping.by().label()).append(" (").append(groups.size()).append(')');
        }
        sb.append(String.format(Locale.ROOT, "  Delay: %.1fs  Rows: %d", delayMs / 1000.0, rows.size()));
        sb.append("   h: help  q: quit");
        return sb.toString();
    }

    private static String cut(String s, int width) {
        return s.length() <= width ? s : s.substring(0, width);
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }
}
