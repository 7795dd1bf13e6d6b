package record

// Port is one published port of a container: a port inside the container
// that the runtime maps to a port on the host.
type Port struct {
	// ContainerPort is the port inside the container, 1 to 65535.
	ContainerPort int `json:"container_port"`
	// Protocol is "tcp", "udp" or "sctp", lower case.
	Protocol string `json:"protocol"`
	// HostIP is the host address the port is bound to. "0.0.0.0" and "::"
	// bind every interface. Docker writes an empty HostIp in hostconfig.json
	// for every interface, which the collector stores as "0.0.0.0".
	HostIP string `json:"host_ip"`
	// HostPort is the port on the host, or 0 when the runtime picks one at
	// start and the container has not started yet.
	HostPort int `json:"host_port"`
}

// Mount is one filesystem mount of a container: a bind mount, a volume or
// a tmpfs.
type Mount struct {
	// Source is the path on the host, or empty for a tmpfs.
	Source string `json:"source"`
	// Destination is the path inside the container.
	Destination string `json:"destination"`
	// ReadWrite is true when the container can write to the mount.
	ReadWrite bool `json:"read_write"`
}
