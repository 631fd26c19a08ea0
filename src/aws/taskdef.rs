//! Task definitions between geno's typed form and the SDK's: the request
//! promote sends, and the projection of a live task definition onto the
//! fields geno owns (ECS adds defaults such as `hostPort` and `cpu: 0` that
//! geno never sets and `geno diff` must not report).

use std::collections::HashMap;

use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::types as ecs;

use crate::deploy::taskdef::{
    ClientAlias, ContainerDefinition, ContainerDependency, EfsAuthorization,
    EfsVolumeConfiguration, HealthCheck, LogConfiguration, MountPoint, NameValue, PortMapping,
    RuntimePlatform, SecretRef, ServiceConnect, ServiceConnectService, TaskDefinition, Volume,
};

pub fn register_request(
    request: RegisterTaskDefinitionFluentBuilder,
    td: &TaskDefinition,
) -> Result<RegisterTaskDefinitionFluentBuilder, String> {
    let mut containers = Vec::new();
    for c in &td.container_definitions {
        containers.push(container(c)?);
    }
    Ok(request
        .family(&td.family)
        .set_task_role_arn(td.task_role_arn.clone())
        .set_execution_role_arn(td.execution_role_arn.clone())
        .network_mode(ecs::NetworkMode::from(td.network_mode.as_str()))
        .set_requires_compatibilities(Some(
            td.requires_compatibilities
                .iter()
                .map(|c| ecs::Compatibility::from(c.as_str()))
                .collect(),
        ))
        .cpu(&td.cpu)
        .memory(&td.memory)
        .set_runtime_platform(td.runtime_platform.as_ref().map(|p| {
            ecs::RuntimePlatform::builder()
                .cpu_architecture(ecs::CpuArchitecture::from(p.cpu_architecture.as_str()))
                .operating_system_family(ecs::OsFamily::from(p.operating_system_family.as_str()))
                .build()
        }))
        .set_container_definitions(Some(containers))
        .set_volumes((!td.volumes.is_empty()).then(|| td.volumes.iter().map(volume).collect())))
}

fn volume(v: &Volume) -> ecs::Volume {
    ecs::Volume::builder()
        .name(&v.name)
        .set_efs_volume_configuration(v.efs_volume_configuration.as_ref().and_then(|e| {
            ecs::EfsVolumeConfiguration::builder()
                .file_system_id(&e.file_system_id)
                .set_root_directory(e.root_directory.clone())
                .set_transit_encryption(
                    e.transit_encryption
                        .as_deref()
                        .map(ecs::EfsTransitEncryption::from),
                )
                .set_authorization_config(e.authorization_config.as_ref().map(|a| {
                    ecs::EfsAuthorizationConfig::builder()
                        .access_point_id(&a.access_point_id)
                        .iam(ecs::EfsAuthorizationConfigIam::from(a.iam.as_str()))
                        .build()
                }))
                .build()
                .ok()
        }))
        .build()
}

fn container(c: &ContainerDefinition) -> Result<ecs::ContainerDefinition, String> {
    let mut secrets = Vec::new();
    for s in &c.secrets {
        secrets.push(
            ecs::Secret::builder()
                .name(&s.name)
                .value_from(&s.value_from)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    let health = match &c.health_check {
        Some(h) => Some(
            ecs::HealthCheck::builder()
                .set_command(Some(h.command.clone()))
                .interval(h.interval)
                .timeout(h.timeout)
                .retries(h.retries)
                .set_start_period(h.start_period)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let logs = match &c.log_configuration {
        Some(l) => Some(
            ecs::LogConfiguration::builder()
                .log_driver(ecs::LogDriver::from(l.log_driver.as_str()))
                .set_options(Some(
                    l.options
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<HashMap<_, _>>(),
                ))
                .build()
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    Ok(ecs::ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .essential(c.essential)
        .set_memory_reservation(c.memory_reservation)
        .set_cpu(c.cpu)
        .set_memory(c.memory)
        .set_depends_on(
            (!c.depends_on.is_empty())
                .then(|| {
                    c.depends_on
                        .iter()
                        .map(|d| {
                            ecs::ContainerDependency::builder()
                                .container_name(&d.container_name)
                                .condition(ecs::ContainerCondition::from(d.condition.as_str()))
                                .build()
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(|e| e.to_string())?,
        )
        .set_stop_timeout(c.stop_timeout)
        .set_mount_points((!c.mount_points.is_empty()).then(|| {
            c.mount_points
                .iter()
                .map(|m| {
                    ecs::MountPoint::builder()
                        .source_volume(&m.source_volume)
                        .container_path(&m.container_path)
                        .read_only(m.read_only)
                        .build()
                })
                .collect()
        }))
        .set_entry_point(c.entry_point.clone())
        .set_command(c.command.clone())
        .set_port_mappings(Some(
            c.port_mappings
                .iter()
                .map(|p| {
                    ecs::PortMapping::builder()
                        .set_name(p.name.clone())
                        .container_port(p.container_port)
                        .protocol(ecs::TransportProtocol::from(p.protocol.as_str()))
                        .build()
                })
                .collect(),
        ))
        .set_environment(Some(
            c.environment
                .iter()
                .map(|e| {
                    ecs::KeyValuePair::builder()
                        .name(&e.name)
                        .value(&e.value)
                        .build()
                })
                .collect(),
        ))
        .set_secrets(Some(secrets))
        .set_health_check(health)
        .set_log_configuration(logs)
        .build())
}

/// A live task definition reduced to the fields geno renders.
pub fn project(td: &ecs::TaskDefinition) -> TaskDefinition {
    TaskDefinition {
        family: td.family().unwrap_or_default().to_string(),
        task_role_arn: td.task_role_arn().map(str::to_string),
        execution_role_arn: td.execution_role_arn().map(str::to_string),
        network_mode: td
            .network_mode()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
        requires_compatibilities: td
            .requires_compatibilities()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        cpu: td.cpu().unwrap_or_default().to_string(),
        memory: td.memory().unwrap_or_default().to_string(),
        runtime_platform: td.runtime_platform().map(|p| RuntimePlatform {
            cpu_architecture: p
                .cpu_architecture()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            operating_system_family: p
                .operating_system_family()
                .map(|o| o.as_str().to_string())
                .unwrap_or_default(),
        }),
        container_definitions: td
            .container_definitions()
            .iter()
            .map(|c| ContainerDefinition {
                name: c.name().unwrap_or_default().to_string(),
                image: c.image().unwrap_or_default().to_string(),
                essential: c.essential().unwrap_or(true),
                memory_reservation: c.memory_reservation(),
                // ECS says `cpu: 0` of a container that names none.
                cpu: Some(c.cpu()).filter(|n| *n > 0),
                memory: c.memory(),
                depends_on: c
                    .depends_on()
                    .iter()
                    .map(|d| ContainerDependency {
                        container_name: d.container_name().to_string(),
                        condition: d.condition().as_str().to_string(),
                    })
                    .collect(),
                stop_timeout: c.stop_timeout(),
                mount_points: c
                    .mount_points()
                    .iter()
                    .map(|m| MountPoint {
                        source_volume: m.source_volume().unwrap_or_default().to_string(),
                        container_path: m.container_path().unwrap_or_default().to_string(),
                        read_only: m.read_only().unwrap_or(false),
                    })
                    .collect(),
                entry_point: c
                    .entry_point
                    .as_ref()
                    .filter(|v| !v.is_empty())
                    .map(|v| v.to_vec()),
                command: c
                    .command
                    .as_ref()
                    .filter(|v| !v.is_empty())
                    .map(|v| v.to_vec()),
                port_mappings: c
                    .port_mappings()
                    .iter()
                    .map(|p| PortMapping {
                        name: p.name().map(str::to_string),
                        container_port: p.container_port().unwrap_or_default(),
                        protocol: p
                            .protocol()
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_else(|| "tcp".into()),
                    })
                    .collect(),
                environment: c
                    .environment()
                    .iter()
                    .map(|e| NameValue {
                        name: e.name().unwrap_or_default().to_string(),
                        value: e.value().unwrap_or_default().to_string(),
                    })
                    .collect(),
                secrets: c
                    .secrets()
                    .iter()
                    .map(|s| SecretRef {
                        name: s.name().to_string(),
                        value_from: s.value_from().to_string(),
                    })
                    .collect(),
                health_check: c.health_check().map(|h| HealthCheck {
                    command: h.command().to_vec(),
                    interval: h.interval().unwrap_or(30),
                    timeout: h.timeout().unwrap_or(5),
                    retries: h.retries().unwrap_or(3),
                    start_period: h.start_period(),
                }),
                log_configuration: c.log_configuration().map(|l| LogConfiguration {
                    log_driver: l.log_driver().as_str().to_string(),
                    options: l
                        .options()
                        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                }),
            })
            .collect(),
        volumes: td
            .volumes()
            .iter()
            .map(|v| Volume {
                name: v.name().unwrap_or_default().to_string(),
                efs_volume_configuration: v.efs_volume_configuration().map(|e| {
                    EfsVolumeConfiguration {
                        file_system_id: e.file_system_id().to_string(),
                        root_directory: e.root_directory().map(str::to_string),
                        transit_encryption: e.transit_encryption().map(|t| t.as_str().to_string()),
                        authorization_config: e.authorization_config().and_then(|a| {
                            Some(EfsAuthorization {
                                access_point_id: a.access_point_id()?.to_string(),
                                iam: a.iam().map(|i| i.as_str().to_string()).unwrap_or_default(),
                            })
                        }),
                    }
                }),
            })
            .collect(),
    }
}

/// A service's Service Connect configuration as UpdateService takes it.
pub fn service_connect_request(
    sc: &ServiceConnect,
) -> Result<ecs::ServiceConnectConfiguration, String> {
    let mut services = Vec::new();
    for s in &sc.services {
        let mut aliases = Vec::new();
        for a in &s.client_aliases {
            aliases.push(
                ecs::ServiceConnectClientAlias::builder()
                    .port(a.port)
                    .set_dns_name(a.dns_name.clone())
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        services.push(
            ecs::ServiceConnectService::builder()
                .port_name(&s.port_name)
                .set_client_aliases(Some(aliases))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(ecs::ServiceConnectConfiguration::builder()
        .enabled(sc.enabled)
        .set_namespace(sc.namespace.clone())
        .set_services(Some(services))
        .build())
}

/// A deployment's Service Connect configuration, as geno compares it.
pub fn service_connect(c: &ecs::ServiceConnectConfiguration) -> ServiceConnect {
    ServiceConnect {
        enabled: c.enabled(),
        namespace: c.namespace().map(str::to_string),
        services: c
            .services()
            .iter()
            .map(|s| ServiceConnectService {
                port_name: s.port_name().to_string(),
                client_aliases: s
                    .client_aliases()
                    .iter()
                    .map(|a| ClientAlias {
                        port: a.port(),
                        dns_name: a.dns_name().map(str::to_string),
                    })
                    .collect(),
            })
            .collect(),
    }
}
