package io.procwatch.cli;

import io.procwatch.client.ProcRow;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The bounds of ps's kept lines (any user may run ps in the root daemon). */
class PsLinesTest {
    private static List<Columns.Col> cols(String... keys) {
        List<Field> f = new ArrayList<>();
        for (String k : keys) {
            f.add(Fields.get(k));
        }
        return Columns.of(f);
    }

    private static ProcRow row(Object origin) {
        ProcRow r = new ProcRow();
        r.origin = origin;
        return r;
    }

    @Test
    void keptForTheSameTableRowOnly() {
        List<Columns.Col> c = cols("pid", "user", "args");
        Object a = new Object();
        Object b = new Object();
        PsLines run = PsLines.open(c, 4242, true, StandardCharsets.UTF_8);
        assertThat(run.get(row(a))).isNull();
        run.keep(row(a), "1 root x\n".getBytes(StandardCharsets.UTF_8));
        run.close();
        PsLines next = PsLines.open(c, 4242, true, StandardCharsets.UTF_8);
        assertThat(next.get(row(a))).asString(StandardCharsets.UTF_8).isEqualTo("1 root x\n");
        assertThat(next.get(row(b))).as("another table row").isNull();
        assertThat(next.get(row(null))).as("a row with no origin (over the wire)").isNull();
        // another reader, another encoding, other columns: nothing shared
        assertThat(PsLines.open(c, 4243, true, StandardCharsets.UTF_8).get(row(a))).isNull();
        assertThat(PsLines.open(c, 4242, false, StandardCharsets.US_ASCII).get(row(a))).isNull();
        assertThat(PsLines.open(cols("pid", "user"), 4242, true, StandardCharsets.UTF_8).get(row(a))).isNull();
        next.close();
    }

    @Test
    void columnsWithAClockOrTooManyAreNotKept() {
        assertThat(PsLines.open(cols("pid", "etime"), 0, true, StandardCharsets.UTF_8)).isNull();
        assertThat(PsLines.open(cols("pid", "c"), 0, true, StandardCharsets.UTF_8)).isNull();
        assertThat(PsLines.open(cols("pid", "stime"), 0, true, StandardCharsets.UTF_8)).isNull();
        String[] many = new String[PsLines.MAX_COLUMNS + 1];
        java.util.Arrays.fill(many, "args");
        assertThat(PsLines.open(cols(many), 0, true, StandardCharsets.UTF_8)).isNull();
    }

    @Test
    void aRunOverTheBudgetKeepsNothing() {
        List<Columns.Col> c = cols("pid", "args");
        Object first = new Object();
        PsLines run = PsLines.open(c, 4244, true, StandardCharsets.UTF_8);
        run.keep(row(first), "short\n".getBytes(StandardCharsets.UTF_8));
        run.keep(row(new Object()), new byte[PsLines.MAX_LINE + 1]);
        run.close();
        assertThat(PsLines.open(c, 4244, true, StandardCharsets.UTF_8).get(row(first)))
                .as("a line over the bound drops the set").isNull();

        PsLines big = PsLines.open(c, 4244, true, StandardCharsets.UTF_8);
        byte[] line = new byte[PsLines.MAX_LINE];
        List<Object> origins = new ArrayList<>();
        for (long kept = 0; kept <= PsLines.MAX_BYTES; kept += line.length) {
            Object o = new Object();
            origins.add(o);
            big.keep(row(o), line);
        }
        big.close();
        assertThat(PsLines.open(c, 4244, true, StandardCharsets.UTF_8).get(row(origins.get(0))))
                .as("more than %d bytes of lines: none kept", PsLines.MAX_BYTES).isNull();
    }
}
