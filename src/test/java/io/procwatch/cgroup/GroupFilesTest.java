package io.procwatch.cgroup;

import io.procwatch.testing.Cgroups;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The group-file reader on real cgroups: a group the test makes and fills gives its own values;
 * once removed, or for paths that are not plain paths below the hierarchy, every value is unknown
 * and nothing outside the hierarchy is read.
 */
class GroupFilesTest {
    @Test
    void aGroupsOwnFilesThenTheGroupGone() throws Exception {
        Path root = Cgroups.unifiedRoot();
        assertThat(GroupFiles.unifiedMount()).isEqualTo(root);
        String name = "pwgf" + ProcessHandle.current().pid();
        Path dir = root.resolve(name);
        Files.createDirectories(dir);
        Process p = new ProcessBuilder("perl", "-e", "$t = time + 2; 1 while time < $t").start();
        try {
            Files.writeString(dir.resolve("cgroup.procs"), Long.toString(p.pid()));
            assertThat(p.waitFor()).isZero(); // two seconds of CPU charged to the group
            GroupFiles.Stats s = GroupFiles.read("/" + name);
            assertThat(s.cpuUsageUsec()).as("cpu.stat usage_usec").isGreaterThan(500_000);
            String stat = Files.readString(dir.resolve("cpu.stat"));
            assertThat(stat).contains("usage_usec " + s.cpuUsageUsec() + "\n"); // no process left: it stays
            assertThat(s.cpuSome10()).isBetween(0.0, 100.0);
            assertThat(s.ioSome10()).isBetween(0.0, 100.0);
            assertThat(s.memoryFull10()).isBetween(0.0, 100.0);
            assertThat(s.memoryCurrentBytes() >= 0).isEqualTo(Files.exists(dir.resolve("memory.current")));
        } finally {
            p.destroyForcibly().waitFor();
            Files.delete(dir);
        }
        assertThat(GroupFiles.read("/" + name)).as("a removed group").isEqualTo(GroupFiles.Stats.NONE);
    }

    @Test
    void pathsThatAreNotPlainAreNeverRead() {
        Path root = Path.of("/sys/fs/cgroup/unified");
        for (String bad : new String[] {null, "", "relative", "/../../proc", "/a/../..", "/./x", "//x", "/a//b", "/a\0b", "/a/"}) {
            assertThat(GroupFiles.dirOf(root, bad)).as(String.valueOf(bad)).isNull();
        }
        assertThat(GroupFiles.dirOf(root, "/")).isEqualTo(root);
        assertThat(GroupFiles.dirOf(root, "/system.slice/cron.service")).isEqualTo(root.resolve("system.slice/cron.service"));
        assertThat(GroupFiles.read("/../../../etc")).isEqualTo(GroupFiles.Stats.NONE);
    }

    @Test
    void malformedContentIsUnknown() {
        assertThat(GroupFiles.single("max\n")).isEqualTo(-1);
        assertThat(GroupFiles.single("-5")).isEqualTo(-1);
        assertThat(GroupFiles.single("99999999999999999999999")).isEqualTo(-1);
        assertThat(GroupFiles.keyed("usage_usec x\nuser_usec 3\n", "usage_usec")).isEqualTo(-1);
        assertThat(GroupFiles.keyed("user_usec 3\nusage_usec 7\n", "usage_usec")).isEqualTo(7);
        double[] p = GroupFiles.pressure("some avg10=1.50 avg60=0 avg300=0 total=9\nfull avg10=nan\n");
        assertThat(p[0]).isEqualTo(1.5);
        assertThat(p[1]).isNaN();
        assertThat(GroupFiles.pressure("some avg10=250.0\n")[0]).as("out of range").isNaN();
    }
}
