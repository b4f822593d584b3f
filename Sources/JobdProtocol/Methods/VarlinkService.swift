/// `org.varlink.service`: what every varlink service answers, so generic clients can discover jobd.
public enum VarlinkService {
    public static let getInfo = "org.varlink.service.GetInfo"
    public static let getInterfaceDescription = "org.varlink.service.GetInterfaceDescription"
    public static let interfaceName = "org.varlink.service"

    public struct Info: Hashable, Sendable, Codable {
        public var vendor: String
        public var product: String
        public var version: String
        public var url: String
        public var interfaces: [String]

        public init(vendor: String, product: String, version: String, url: String, interfaces: [String]) {
            self.vendor = vendor
            self.product = product
            self.version = version
            self.url = url
            self.interfaces = interfaces
        }
    }

    public struct InterfaceQuery: Hashable, Sendable, Codable {
        public var interface: String
        public init(interface: String) { self.interface = interface }
    }

    public struct InterfaceDescription: Hashable, Sendable, Codable {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// The standard definition of `org.varlink.service`, served as it is written in the varlink spec.
    public static let definition = """
        # The Varlink Service Interface is provided by every varlink service. It
        # describes the service and the interfaces it implements.
        interface org.varlink.service

        # Get a list of all the interfaces a service provides and information
        # about the implementation.
        method GetInfo() -> (
          vendor: string,
          product: string,
          version: string,
          url: string,
          interfaces: []string
        )

        # Get the description of an interface that is implemented by this service.
        method GetInterfaceDescription(interface: string) -> (description: string)

        # The requested interface was not found.
        error InterfaceNotFound (interface: string)

        # The requested method was not found
        error MethodNotFound (method: string)

        # The interface defines the requested method, but the service does not
        # implement it.
        error MethodNotImplemented (method: string)

        # One of the passed parameters is invalid.
        error InvalidParameter (parameter: string)

        # Client is denied access
        error PermissionDenied ()

        # Method is expected to be called with 'more' set to true, but wasn't
        error ExpectedMore ()

        """
}

/// The parameters of a method that takes one job: `Get`, `Cancel`, `Retry`, `Attempts`.
public struct JobIDParameters: Hashable, Sendable, Codable {
    public var id: JobID
    public init(id: JobID) { self.id = id }
}
