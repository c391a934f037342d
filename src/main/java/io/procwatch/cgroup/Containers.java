package io.procwatch.cgroup;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which container a process runs in, recognised from its cgroup paths (no runtime is asked). The
 * shapes, as container runtimes and the kubelet name cgroups with the systemd and cgroupfs
 * drivers (docs/containers.md has the table):
 *
 * <pre>
 *   .../docker-ID.scope            .../docker/ID            docker
 *   .../libpod-ID.scope[/...]      .../libpod-ID            podman (not libpod-conmon-: the monitor)
 *   .../cri-containerd-ID.scope    .../containerd/ID        containerd
 *   .../crio-ID.scope              (not crio-conmon-)       cri-o
 *   .../kubepods/QOS/podUID/ID                              kubernetes (cgroupfs driver; runtime unknown)
 *   .../lxc.payload.NAME   .../lxc/NAME                     lxc
 *   pod: kubepods[-QOS]-podUID.slice (with _ for -), or .../podUID/ under kubepods
 * </pre>
 */
public final class Containers {
    /** A container: its runtime and id (the full id, or the name for lxc). */
    public record Container(String runtime, String id) {
        /** "docker:0123456789ab": runtime and the id's first 12 characters, as runtimes abbreviate it. */
        public String shortName() {
            return runtime + ":" + (id.length() > 12 && id.matches("[0-9a-f]+") ? id.substring(0, 12) : id);
        }
    }

    private static final String ID = "([0-9a-f]{64})";
    private static final List<Object[]> SHAPES = List.of(
            new Object[] {Pattern.compile("(?:^|/)docker-" + ID + "\\.scope(?:/|$)"), "docker"},
            new Object[] {Pattern.compile("(?:^|/)docker/" + ID + "(?:/|$)"), "docker"},
            new Object[] {Pattern.compile("(?:^|/)libpod-" + ID + "(?:\\.scope)?(?:/|$)"), "podman"},
            new Object[] {Pattern.compile("(?:^|/)cri-containerd-" + ID + "\\.scope(?:/|$)"), "containerd"},
            new Object[] {Pattern.compile("(?:^|/)containerd/" + ID + "(?:/|$)"), "containerd"},
            new Object[] {Pattern.compile("(?:^|/)crio-" + ID + "\\.scope(?:/|$)"), "cri-o"},
            new Object[] {Pattern.compile("(?:^|/)kubepods/(?:[a-z]+/)?pod[0-9a-f-]{36}/" + ID + "(?:/|$)"), "kubernetes"},
            new Object[] {Pattern.compile("(?:^|/)lxc\\.payload\\.([^/]+)(?:/|$)"), "lxc"},
            new Object[] {Pattern.compile("(?:^|/)lxc/([^/]+)(?:/|$)"), "lxc"});
    private static final Pattern POD_SLICE = Pattern.compile("kubepods(?:-[a-z]+)?-pod([0-9a-f_]{36})\\.slice");
    private static final Pattern POD_DIR = Pattern.compile("(?:^|/)kubepods/(?:[a-z]+/)?pod([0-9a-f-]{36})(?:/|$)");

    private Containers() {
    }

    /** The container of the first cgroup path that names one (the unified hierarchy's first), or null. */
    public static Container of(List<String> cgroupLines) {
        for (String path : ordered(cgroupLines)) {
            for (Object[] shape : SHAPES) {
                Matcher m = ((Pattern) shape[0]).matcher(path);
                if (m.find()) {
                    return new Container((String) shape[1], m.group(1));
                }
            }
        }
        return null;
    }

    /** The Kubernetes pod uid, or null. */
    public static String pod(List<String> cgroupLines) {
        for (String path : ordered(cgroupLines)) {
            Matcher s = POD_SLICE.matcher(path);
            if (s.find()) {
                return s.group(1).replace('_', '-');
            }
            Matcher d = POD_DIR.matcher(path);
            if (d.find()) {
                return d.group(1);
            }
        }
        return null;
    }

    private static List<String> ordered(List<String> lines) {
        List<String> unified = lines.stream().filter(l -> l.startsWith("0::")).map(CgroupPaths::path).toList();
        List<String> rest = lines.stream().filter(l -> !l.startsWith("0::")).map(CgroupPaths::path)
                .filter(p -> p != null).toList();
        return java.util.stream.Stream.concat(unified.stream(), rest.stream()).toList();
    }
    /**
     * procps's LXC column: the container name after the first of {@code lxc.payload.},
     * {@code lxc.payload/}, {@code lxc/} found in the cgroup lines (each delimiter tried over all
     * lines before the next), the innermost one when they nest, up to the next '/'; null if none.
     */
    public static String lxcName(List<String> lines) {
        for (String delim : new String[] {"lxc.payload.", "lxc.payload/", "lxc/"}) {
            for (String line : lines) {
                int at = line.indexOf(delim);
                if (at < 0) {
                    continue;
                }
                String rest;
                do {
                    rest = line.substring(at + delim.length());
                    at = line.indexOf(delim, at + delim.length());
                } while (at >= 0);
                int slash = rest.indexOf('/');
                return slash < 0 ? rest : rest.substring(0, slash);
            }
        }
        return null;
    }
}
