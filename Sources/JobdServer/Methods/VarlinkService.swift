import JobdProtocol

extension Responder {
    /// `org.varlink.service.GetInfo`.
    func info() -> VarlinkService.Info {
        VarlinkService.Info(
            vendor: "jobd", product: "jobd", version: JobdInterface.version, url: "https://github.com/jobd/jobd",
            interfaces: [VarlinkService.interfaceName, JobdInterface.name])
    }

    /// `org.varlink.service.GetInterfaceDescription`: the real definition text of each interface.
    func interfaceDescription(_ query: VarlinkService.InterfaceQuery) throws -> VarlinkService.InterfaceDescription {
        switch query.interface {
        case JobdInterface.name: return .init(description: JobdInterface.definition)
        case VarlinkService.interfaceName: return .init(description: VarlinkService.definition)
        default: throw JobdError.interfaceNotFound(query.interface)
        }
    }
}
