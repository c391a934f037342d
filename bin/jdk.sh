# Sourced by bin/procwatch, bin/test and bin/bench: sets JAVA_HOME to a JDK >= 25.
# Order: $JAVA_HOME if it is new enough, then the newest suitable JDK under /usr/lib/jvm.
# The version comes from the JDK's release file: starting a JVM to ask would cost ~0.1 s per run.
pw_java_major() {
    local v
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null)
    echo "${v:-0}"
}

pw_find_jdk() {
    local candidate major
    for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
        [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
        major=$(pw_java_major "$candidate")
        if [ "$major" -ge 25 ]; then
            export JAVA_HOME="$candidate"
            return 0
        fi
    done
    echo "procwatch: no JDK 25 or newer found (looked at \$JAVA_HOME and /usr/lib/jvm/*)." >&2
    echo "procwatch: install one, e.g. the Temurin 25 JDK, or set JAVA_HOME." >&2
    return 1
}
