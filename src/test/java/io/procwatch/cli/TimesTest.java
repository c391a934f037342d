package io.procwatch.cli;

import org.junit.jupiter.api.Test;

import java.time.LocalDateTime;
import java.time.ZoneId;

import static org.assertj.core.api.Assertions.assertThat;

/** procps's start-time formats around midnight, checked against procps-ng 4.0.2's output. */
class TimesTest {
    private static long ms(String iso) {
        return LocalDateTime.parse(iso).atZone(ZoneId.systemDefault()).toInstant().toEpochMilli();
    }

    @Test
    void stimeGoesByCalendarDayStartByTwentyFourHours() {
        long start = ms("2026-11-24T21:38:58");
        long justAfterMidnight = ms("2026-11-25T00:03:09");
        // what `ps -o stime,bsdstart,start -p 1` printed at that moment
        assertThat(Times.stime(start, justAfterMidnight)).isEqualTo("Nov24");
        assertThat(Times.bsdStart(start, justAfterMidnight)).isEqualTo("21:38");
        assertThat(Times.started(start, justAfterMidnight)).isEqualTo("21:38:58");
        assertThat(Times.lstart(start)).isEqualTo("Tue Nov 24 21:38:58 2026");
        assertThat(Times.stime(start, ms("2026-11-24T23:59:00"))).isEqualTo("21:38");
        assertThat(Times.stime(start, ms("2027-01-02T10:00:00"))).isEqualTo("2026");
    }

    /** procps's start_time, BSD u's START, is pr_stime (calendar day), not bsdstart (24 hours). */
    @Test
    void startTimeIsStimeUnderAnotherHeader() {
        Field startTime = Fields.all().get("start_time");
        assertThat(startTime.text()).isSameAs(Fields.all().get("stime").text());
        assertThat(startTime.header()).isEqualTo("START");
        assertThat(Fields.all().get("bsdstart").text()).isNotSameAs(startTime.text());
    }
}
