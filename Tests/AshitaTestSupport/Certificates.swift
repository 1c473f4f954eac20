import Foundation

public struct CertificateError: Error, CustomStringConvertible {
    public var description: String
}

/// A self-signed certificate for 127.0.0.1 and its key, PEM files made with the openssl command (Debian's
/// `openssl`), valid two days.
public func makeSelfSignedCertificate() async throws -> (certificate: String, key: String) {
    let dir = temporaryDirectory("ashita-cert")
    let openssl = try ChildProcess(
        "/usr/bin/openssl",
        [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(dir)/key.pem", "-out", "\(dir)/cert.pem", "-days", "2", "-subj", "/CN=ashita test",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ], standardOutput: .discard, standardError: .discard)
    guard await openssl.status() == 0 else {
        throw CertificateError(description: "openssl could not make a certificate (apt-get install openssl)")
    }
    return ("\(dir)/cert.pem", "\(dir)/key.pem")
}
