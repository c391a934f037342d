package io.procwatch.procfs;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class PidStatTest {

    private static PidStat parse(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return PidStat.parse(b, b.length);
    }

    @Test
    void parsesTheRealSelfStat() throws Exception {
        byte[] b = Files.readAllBytes(Path.of("/proc/self/stat"));
        PidStat s = PidStat.parse(b, b.length);
        assertThat(s).isNotNull();
        assertThat(s.pid()).isEqualTo((int) ProcessHandle.current().pid());
        assertThat(s.comm()).isEqualTo("java");
        assertThat(s.ppid()).isEqualTo((int) ProcessHandle.current().parent().orElseThrow().pid());
        assertThat(s.numThreads()).isGreaterThan(1);
        assertThat(s.vsize()).isPositive();
    }

    @Test
    void commWithSpacesAndParentheses() {
        String line = "42 (a) b (c)) R 1 42 42 0 -1 4194304 10 0 1 0 5 6 0 0 20 0 3 0 777 1000 50 "
                + "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        PidStat s = parse(line);
        assertThat(s).isNotNull();
        assertThat(s.comm()).isEqualTo("a) b (c)");
        assertThat(s.state()).isEqualTo('R');
        assertThat(s.ppid()).isEqualTo(1);
        assertThat(s.utime()).isEqualTo(5);
        assertThat(s.stime()).isEqualTo(6);
        assertThat(s.numThreads()).isEqualTo(3);
        assertThat(s.starttime()).isEqualTo(777);
        assertThat(s.rss()).isEqualTo(50);
        assertThat(s.processor()).isEqualTo(1);
    }

    @Test
    void garbageIsNullNotAnException() {
        assertThat(parse("")).isNull();
        assertThat(parse("12 (x")).isNull();
        assertThat(parse("12 (x) R 1 2")).isNull();
        assertThat(parse("12 (x) R a b c d e f g h i j k l m n o p q r s t u v w x y z")).isNull();
    }
}
