package io.procwatch.connector;

import io.procwatch.event.ProcEvent;
import io.procwatch.sys.Libc;
import io.procwatch.testing.EventRecorder;
import io.procwatch.testing.Spawn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real processes, real kernel events: each test starts processes and checks the exact events,
 * their fields and their order for the pids involved.
 */
class ProcConnectorKernelTest {
    private static EventRecorder recorder;
    private static final int SELF = (int) ProcessHandle.current().pid();

    @BeforeAll
    static void subscribe() throws Exception {
        recorder = EventRecorder.start();
    }

    @AfterAll
    static void unsubscribe() {
        recorder.close();
        assertThat(recorder.failures()).isEmpty();
    }

    /** Kinds of the events about a process, in order, e.g. [Fork, Exec, Exec, Exit]. */
    private static List<String> kinds(List<ProcEvent> events) {
        return events.stream().map(e -> e.getClass().getSimpleName()).toList();
    }

    @Test
    void execAndExitWithCode3() throws Exception {
        Process p = Spawn.run("/bin/sh", "-c", "exit 3");
        int pid = (int) p.pid();
        ProcEvent.Exit exit = recorder.awaitExit(pid);
        List<ProcEvent> ev = recorder.forProcess(pid);

        // The JDK starts children through jspawnhelper, so there are two execs: helper, then sh.
        assertThat(kinds(ev)).first().isEqualTo("Fork");
        assertThat(kinds(ev)).last().isEqualTo("Exit");
        assertThat(kinds(ev.subList(1, ev.size() - 1))).isNotEmpty().allMatch(k -> k.equals("Exec"));
        ProcEvent.Fork fork = (ProcEvent.Fork) ev.getFirst();
        assertThat(fork.parentTgid()).isEqualTo(SELF);
        assertThat(fork.childPid()).isEqualTo(pid);
        assertThat(fork.isThread()).isFalse();
        assertThat(exit.status().exited()).isTrue();
        assertThat(exit.status().exitCode()).isEqualTo(3);
        assertThat(exit.status().raw()).isEqualTo(3 << 8);
        assertThat(exit.parentTgid()).isEqualTo(SELF);
        assertThat(exit.exitSignal()).isEqualTo(17); // SIGCHLD to the parent
        assertThat(exit.timestampNs()).isGreaterThanOrEqualTo(fork.timestampNs());
        assertThat(p.exitValue()).isEqualTo(3);
    }

    @Test
    void anotherListenerSubscribingIsNotALoss() throws Exception {
        // The kernel acknowledges every LISTEN/IGNORE with an event that goes to all listeners
        // and takes a number from the per-CPU sequence like any event. Skipping it without noting
        // its number made the next event on that CPU look like one lost event (and the daemon
        // rescanned /proc for nothing each time any client subscribed).
        int lossesBefore = recorder.losses().size();
        for (int i = 0; i < 6; i++) {
            try (ProcConnector other = ProcConnector.open(ProcConnector.Options.defaults())) {
                assertThat(other.receiveBufferBytes()).isPositive();
            }
        }
        for (int i = 0; i < 10; i++) { // events on every CPU after the acks
            Process p = Spawn.run("/bin/sh", "-c", "exit 0");
            recorder.awaitExit((int) p.pid());
        }
        assertThat(recorder.losses().subList(lossesBefore, recorder.losses().size())).isEmpty();
    }

    @Test
    void forkWithoutExec() throws Exception {
        // The subshell is a fork of bash that never execs and exits with 7.
        Process p = Spawn.run("/bin/bash", "-c", "(exit 7); exit 0");
        int bash = (int) p.pid();
        recorder.awaitExit(bash);
        List<ProcEvent> forks = recorder.matching(e -> e instanceof ProcEvent.Fork f
                && f.parentTgid() == bash && !f.isThread());
        assertThat(forks).hasSize(1);
        int child = forks.getFirst().tgid();
        List<ProcEvent> ev = recorder.forProcess(child);
        assertThat(kinds(ev)).containsExactly("Fork", "Exit");
        ProcEvent.Exit exit = (ProcEvent.Exit) ev.get(1);
        assertThat(exit.status().exitCode()).isEqualTo(7);
        assertThat(exit.parentTgid()).isEqualTo(bash);
    }

    @Test
    void threadCreateRenameAndExit() throws Exception {
        AtomicInteger tid = new AtomicInteger();
        Thread t = Thread.ofPlatform().start(() -> {
            tid.set(Libc.gettid());
            try {
                Libc.setThreadName("pw-renamed");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        t.join();
        int thread = tid.get();
        recorder.await(e -> e instanceof ProcEvent.Exit x && x.pid() == thread, Duration.ofSeconds(10));
        List<ProcEvent> ev = recorder.forThread(thread);
        // The JVM names every new thread itself (prctl), so our rename is the last of the comm events.
        assertThat(kinds(ev)).first().isEqualTo("Fork");
        assertThat(kinds(ev)).last().isEqualTo("Exit");
        assertThat(kinds(ev.subList(1, ev.size() - 1))).isNotEmpty().allMatch(k -> k.equals("CommChange"));
        ProcEvent.Fork fork = (ProcEvent.Fork) ev.get(0);
        assertThat(fork.isThread()).isTrue();
        assertThat(fork.childTgid()).isEqualTo(SELF);
        // For a thread the kernel reports task->real_parent: the parent of the whole process.
        assertThat(fork.parentTgid()).isEqualTo((int) ProcessHandle.current().parent().orElseThrow().pid());
        ProcEvent.CommChange comm = (ProcEvent.CommChange) ev.get(ev.size() - 2);
        assertThat(comm.comm()).isEqualTo("pw-renamed");
        assertThat(comm.tgid()).isEqualTo(SELF);
        ProcEvent.Exit exit = (ProcEvent.Exit) ev.getLast();
        assertThat(exit.isThread()).isTrue();
        assertThat(exit.tgid()).isEqualTo(SELF);
        assertThat(exit.exitSignal()).isEqualTo(-1); // threads signal nobody
    }

    @Test
    void setuidAndSetgidViaSetpriv() throws Exception {
        Process p = Spawn.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/true");
        int pid = (int) p.pid();
        recorder.awaitExit(pid);
        List<ProcEvent> ev = recorder.forProcess(pid);
        List<String> k = kinds(ev);
        int gid = k.indexOf("GidChange");
        int uid = k.indexOf("UidChange");
        int lastExec = k.lastIndexOf("Exec");
        // setpriv changes ids between the exec of setpriv and the exec of /bin/true.
        assertThat(gid).isPositive();
        assertThat(uid).isPositive();
        assertThat(lastExec).isGreaterThan(uid).isGreaterThan(gid);
        ProcEvent.GidChange g = (ProcEvent.GidChange) ev.get(gid);
        ProcEvent.UidChange u = (ProcEvent.UidChange) ev.get(uid);
        assertThat(g.rgid()).isEqualTo(65534);
        assertThat(g.egid()).isEqualTo(65534);
        assertThat(u.ruid()).isEqualTo(65534);
        assertThat(u.euid()).isEqualTo(65534);
        assertThat(((ProcEvent.Exit) ev.getLast()).status().exitCode()).isZero();
    }

    @Test
    void setsid() throws Exception {
        Process p = Spawn.run("setsid", "/bin/true");
        int pid = (int) p.pid();
        recorder.awaitExit(pid);
        List<String> k = kinds(recorder.forProcess(pid));
        assertThat(k).contains("SidChange");
        assertThat(k.indexOf("SidChange")).isLessThan(k.lastIndexOf("Exec"));
    }

    @Test
    void coreDumpSignal() throws Exception {
        Process p = Spawn.run("/bin/bash", "-c", "ulimit -c 0; kill -SEGV $$");
        int pid = (int) p.pid();
        ProcEvent.Exit exit = recorder.awaitExit(pid);
        List<String> k = kinds(recorder.forProcess(pid));
        assertThat(k.subList(k.size() - 2, k.size())).containsExactly("Coredump", "Exit");
        ProcEvent.Coredump core = (ProcEvent.Coredump) recorder.forProcess(pid).get(k.size() - 2);
        assertThat(core.parentTgid()).isEqualTo(SELF);
        assertThat(exit.status().signaled()).isTrue();
        assertThat(exit.status().signal()).isEqualTo(11);
        assertThat(exit.status().coreDumped()).isFalse(); // ulimit -c 0: no core written
        assertThat(exit.status().toString()).isEqualTo("SIGSEGV");
    }

    @Test
    void killedBySigkill() throws Exception {
        Process p = Spawn.start("/bin/sleep", "30");
        int pid = (int) p.pid();
        recorder.await(e -> e instanceof ProcEvent.Exec x && x.tgid() == pid
                && ProcessHandle.of(pid).flatMap(h -> h.info().command()).orElse("").endsWith("sleep"),
                Duration.ofSeconds(10));
        p.destroyForcibly();
        ProcEvent.Exit exit = recorder.awaitExit(pid);
        assertThat(exit.status().signal()).isEqualTo(9);
        assertThat(exit.status().shellStatus()).isEqualTo(137);
        assertThat(kinds(recorder.forProcess(pid))).last().isEqualTo("Exit");
    }

    @Test
    void ptraceAttachAndDetach() throws Exception {
        Process target = Spawn.start("/bin/sleep", "30");
        int pid = (int) target.pid();
        try {
            recorder.await(e -> e instanceof ProcEvent.Exec x && x.tgid() == pid
                    && ProcessHandle.of(pid).flatMap(h -> h.info().command()).orElse("").endsWith("sleep"),
                    Duration.ofSeconds(10));
            Process gdb = Spawn.run("gdb", "--batch", "--nx", "-p", Integer.toString(pid));
            int gdbPid = (int) gdb.pid();
            List<ProcEvent> traces = recorder.matching(e -> e instanceof ProcEvent.Ptrace t && t.tgid() == pid);
            assertThat(traces).hasSizeGreaterThanOrEqualTo(2);
            ProcEvent.Ptrace attach = (ProcEvent.Ptrace) traces.getFirst();
            ProcEvent.Ptrace detach = (ProcEvent.Ptrace) traces.getLast();
            assertThat(attach.attached()).isTrue();
            assertThat(attach.tracerTgid()).isEqualTo(gdbPid);
            assertThat(detach.attached()).isFalse();
            assertThat(detach.tracerPid()).isZero();
        } finally {
            target.destroyForcibly();
        }
    }

    @Test
    void timestampsAreMonotonicNanosSinceBoot() throws Exception {
        long before = Libc.clockNanos(Libc.CLOCK_MONOTONIC);
        Process p = Spawn.run("/bin/true");
        long after = Libc.clockNanos(Libc.CLOCK_MONOTONIC);
        ProcEvent.Exit exit = recorder.awaitExit((int) p.pid());
        assertThat(exit.timestampNs()).isBetween(before, after);
    }
}
