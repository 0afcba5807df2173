import Foundation

/// Turns a spec's `executable` into the absolute path handed to execve, checking it first so
/// the user gets "not found" or "not executable" instead of a bare errno from the child.
enum ExecutableResolver {
    /// Resolves `executable`: paths with a slash against the runner's directory, bare names via `PATH`.
    static func resolve(_ executable: String, path searchPath: String?) throws -> String {
        if executable.contains("/") {
            // Absolute now, because the child may chdir to its working directory before exec.
            let absolute = executable.hasPrefix("/")
                ? executable
                : FileManager.default.currentDirectoryPath + "/" + executable
            try checkRunnable(absolute, asWritten: executable)
            return absolute
        }
        let directories = (searchPath ?? "/usr/local/bin:/usr/bin:/bin")
            .split(separator: ":", omittingEmptySubsequences: true).map(String.init)
        var firstNotExecutable: String?
        for directory in directories {
            let candidate = directory + "/" + executable
            guard fileExists(candidate) else { continue }
            if isExecutableFile(candidate) { return candidate }
            firstNotExecutable = firstNotExecutable ?? candidate
        }
        if let firstNotExecutable { throw SupervisorError.notExecutable(path: firstNotExecutable) }
        throw SupervisorError.executableNotFound(executable: executable, searched: directories)
    }

    private static func checkRunnable(_ path: String, asWritten: String) throws {
        guard fileExists(path) else { throw SupervisorError.executableNotFound(executable: asWritten, searched: []) }
        guard isExecutableFile(path) else { throw SupervisorError.notExecutable(path: path) }
    }

    private static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }
}
