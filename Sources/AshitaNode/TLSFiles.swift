import NIOSSL

/// A certificate chain and its private key, PEM files, for `serve --tls-cert --tls-key`.
public struct TLSFiles: Sendable {
    public var certificate: String
    public var privateKey: String

    public init(certificate: String, privateKey: String) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    func makeServerContext() throws(NodeStartError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw .badTLSFile(certificate, "is not a readable PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw .badTLSFile(certificate, "holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKey, format: .pem)
        } catch {
            throw .badTLSFile(privateKey, "is not a readable PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw .badTLSFile(privateKey, "does not match the certificate in \(certificate) (\(error))")
        }
    }
}
