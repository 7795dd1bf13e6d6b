-- Published ports and mounts of containers. Each port is a string
-- "protocol host_ip:host_port->container_port", such as
-- "tcp 0.0.0.0:8080->80" or "tcp [::]:8080->80", with host port 0 while the
-- engine has not picked an ephemeral port yet. Each mount is a string
-- "source:destination:rw" or "source:destination:ro", such as
-- "/var/run/docker.sock:/var/run/docker.sock:rw". Rows written before this
-- migration read as empty arrays.
-- NOTE: ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so this statement
-- fails with code 44 (column already exists) when it runs a second time on
-- the same database.

ALTER TABLE containers
    ADD COLUMN ports Array(String),
    ADD COLUMN mounts Array(String);
