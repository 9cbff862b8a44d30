import { RemovalPolicy, SecretValue, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import type { SsoTokens } from '../service/sso-access';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import { IMlflowFrontDoor } from '../front-door/front-door';
import { IAM_ROUTE_PREFIX } from '../contract';
import { PLATFORM_DEFAULTS, withDefaults } from '../defaults';

/**
 * Headers only the IAM route's integration sets (containers/nginx: MlflowAuth::iam): the caller's IAM ARN, as API
 * Gateway verified it, and the gateway token that proves the request came through that integration.
 */
export const GATEWAY_HEADERS = { principal: 'X-MLflow-IAM-Principal', token: 'X-MLflow-Gateway-Token' } as const;

export interface HttpGatewayProps {
  /** VPC of the VPC link (its private subnets with egress, unless `subnets` says otherwise). */
  readonly vpc: ec2.IVpc;
  /** Subnets of the VPC link's network interfaces. @default the private subnets with egress */
  readonly subnets?: ec2.SubnetSelection;
  /** The private way into MLflow that the VPC link forwards to; the VPC link is let in there and nowhere else. */
  readonly frontDoor: IMlflowFrontDoor;
  /** Steady-state requests per second the stage accepts. @default PLATFORM_DEFAULTS.apiThrottleRateLimit (100) */
  readonly throttleRateLimit?: number;
  /** Burst of requests the stage accepts above the rate. @default PLATFORM_DEFAULTS.apiThrottleBurstLimit (200) */
  readonly throttleBurstLimit?: number;
  /** Retention of the access logs. @default PLATFORM_DEFAULTS.logRetentionDays (30) */
  readonly logRetention?: logs.RetentionDays;
  /** Serve the API on a host name of the user's. @default - the execute-api endpoint only */
  readonly customDomain?: GatewayCustomDomain;
  /**
   * The IAM route (`ANY /iam/{proxy+}`, SigV4 callers): the gateway token it passes to the proxy with the caller's ARN,
   * a dynamic reference to the token's secret (`GatewayToken.tokenOf`). @default no IAM route
   */
  readonly iamRouteToken?: SecretValue;
  /**
   * auth=sso: `ANY /api/{proxy+}` (what MLflow's clients call) with a JWT authorizer of this issuer and audiences, so
   * that only the provider's valid bearer tokens reach the task there. @default no JWT authorizer
   */
  readonly tokenRoute?: SsoTokens;
}

/** A custom host name for the API: its certificate comes from ACM (given) or is created and validated in the zone. */
export interface GatewayCustomDomain {
  /** The host name, e.g. mlflow.example.com. */
  readonly domainName: string;
  /** An ACM certificate for `domainName` in the stack's region. @default - one created and DNS-validated in `hostedZone` */
  readonly certificateArn?: string;
  /**
   * The public hosted zone that holds `domainName`: the alias record goes there (and the validation records of a
   * created certificate). Given by id and name, so synth needs no lookup.
   * @default - no record: the user points `domainName` at the domain's regional target (`HttpGateway.domainTarget`)
   */
  readonly hostedZone?: { readonly id: string; readonly name: string };
  /** Turn off the execute-api endpoint, so the custom domain is the only way in. @default false */
  readonly disableExecuteApiEndpoint?: boolean;
}

/**
 * The `Retry-After` (seconds) of a 503 the MLflow service's front door answers, which a paused service gives (no task
 * running): what docs/reference/cli.md promises clients. Set by the integration's response mapping, whichever front door.
 */
export const PAUSED_RETRY_AFTER_SECONDS = 30;

/** What MLflow's host and origin checks must accept of requests that come through the gateway. */
export interface GatewayClientHosts {
  /** Host headers (patterns) of the API's endpoints. */
  readonly hosts: string[];
  /**
   * Browser origins MLflow lets make cross-origin requests: the custom domain's, if any. Never a pattern such as
   * `https://*.execute-api.REGION.amazonaws.com`, which admits every other API in the region. A page of the UI served
   * by the endpoint itself is not cross-origin: the proxy removes an `Origin` that equals the request's own scheme and
   * host before MLflow sees it (containers/nginx/nginx.conf.template).
   */
  readonly origins: string[];
}

/**
 * The public HTTPS entry point of MLflow: an HTTP API whose `$default` stage forwards every path and method
 * through a VPC link to MLflow's front door. API Gateway endpoints are HTTPS only.
 */
export class HttpGateway extends Construct {
  /**
   * The hosts and origins of the gateway of a deployment in `region`, for MLflow's checks. Static: the API's id is not
   * known before deployment (hence patterns), and the service's stack cannot wait for the gateway's, which depends on it.
   */
  static clientHosts(region: string, customDomain?: Pick<GatewayCustomDomain, 'domainName' | 'disableExecuteApiEndpoint'>): GatewayClientHosts {
    const hosts: string[] = [];
    const origins: string[] = [];
    if (customDomain) {
      hosts.push(customDomain.domainName);
      origins.push(`https://${customDomain.domainName}`);
    }
    if (!customDomain?.disableExecuteApiEndpoint) {
      hosts.push(`*.execute-api.${region}.amazonaws.com`);
    }
    return { hosts, origins };
  }

  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly vpcLink: apigwv2.VpcLink;
  readonly accessLogs: logs.LogGroup;
  /** The custom domain, when one is configured. */
  readonly domainName?: apigwv2.DomainName;
  private readonly customDomain?: GatewayCustomDomain;

  constructor(scope: Construct, id: string, given: HttpGatewayProps) {
    super(scope, id);
    const props = withDefaults(given, {
      throttleRateLimit: PLATFORM_DEFAULTS.apiThrottleRateLimit,
      throttleBurstLimit: PLATFORM_DEFAULTS.apiThrottleBurstLimit,
      logRetention: PLATFORM_DEFAULTS.logRetentionDays as logs.RetentionDays,
    });

    const vpcLinkSecurityGroup = new ec2.SecurityGroup(this, 'VpcLinkSecurityGroup', {
      vpc: props.vpc,
      description: `API Gateway VPC link: reaches ${props.frontDoor.description} only`,
      allowAllOutbound: false,
    });
    this.vpcLink = new apigwv2.VpcLink(this, 'VpcLink', {
      vpc: props.vpc,
      subnets: props.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [vpcLinkSecurityGroup],
    });
    // The only ingress the front door ever gets: from this VPC link (rules of this stack: the platform stack must not
    // depend on the gateway).
    props.frontDoor.allowFromVpcLink(this, vpcLinkSecurityGroup);

    // The password route: neither of the IAM route's headers gets through from a client.
    const integration = props.frontDoor.vpcLinkIntegration('Mlflow', this.vpcLink,
      new apigwv2.ParameterMapping().removeHeader(GATEWAY_HEADERS.principal).removeHeader(GATEWAY_HEADERS.token));
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'MLflow tracking server',
      defaultIntegration: integration,
      // The stage is declared below so that it can carry throttling and access logging.
      createDefaultStage: false,
      // Only when asked: absent from the template otherwise (as before custom domains existed).
      disableExecuteApiEndpoint: props.customDomain?.disableExecuteApiEndpoint || undefined,
    });
    this.api.addRoutes({ path: '/{proxy+}', methods: [apigwv2.HttpMethod.ANY], integration });
    if (props.iamRouteToken) this.addIamRoute(props.frontDoor, props.iamRouteToken);
    // auth=sso: what MLflow's clients call (/api/*) takes the provider's bearer tokens only, checked here first (issuer,
    // audience, signature, expiry) and again by the task's oauth2-proxy; the UI's own calls (/ajax-api/*) carry the
    // session cookie, which only oauth2-proxy can check.
    if (props.tokenRoute) {
      this.api.addRoutes({
        path: '/api/{proxy+}',
        methods: [apigwv2.HttpMethod.ANY],
        integration,
        authorizer: new HttpJwtAuthorizer('MlflowTokens', props.tokenRoute.issuer, { jwtAudience: props.tokenRoute.audiences }),
      });
    }
    // A 503 from the front door (no task behind it: paused or scaled to 0) tells clients when to come back. The
    // integration's L2 construct has no response mapping; it is set on every integration of the routes above (their L1
    // integrations exist once the routes do).
    const integrations = this.api.node.findAll().filter((c): c is apigwv2.CfnIntegration => c instanceof apigwv2.CfnIntegration);
    for (const cfnIntegration of integrations) {
      cfnIntegration.responseParameters = {
        503: { ResponseParameters: [{ Destination: 'overwrite:header.Retry-After', Source: String(PAUSED_RETRY_AFTER_SECONDS) }] },
      };
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: 'The password route has no API Gateway authorizer: MLflow clients send HTTP basic auth (MLFLOW_TRACKING_USERNAME/PASSWORD), '
        + 'which the NGINX proxy (or, with auth=users, MLflow\'s authentication app) checks on every request but the health check. '
        + 'AWS principals use the IAM route (/iam/*), which has the IAM authorizer.',
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify({
          requestId: '$context.requestId',
          ip: '$context.identity.sourceIp',
          requestTime: '$context.requestTime',
          method: '$context.httpMethod',
          path: '$context.path',
          status: '$context.status',
          responseLength: '$context.responseLength',
          integrationStatus: '$context.integrationStatus',
          integrationLatency: '$context.integrationLatency',
          integrationError: '$context.integrationErrorMessage',
          principal: '$context.identity.userArn',
        })),
      },
    });
    this.customDomain = props.customDomain;
    if (props.customDomain) this.domainName = this.addCustomDomain(props.customDomain);
  }

  /**
   * The custom domain: an API Gateway regional domain name with its certificate (given, or created in ACM and validated
   * by DNS in the hosted zone), mapped to the `$default` stage, and with a zone, an alias A record to it.
   */
  private addCustomDomain(domain: GatewayCustomDomain): apigwv2.DomainName {
    const zone = domain.hostedZone
      ? route53.PublicHostedZone.fromHostedZoneAttributes(this, 'HostedZone', { hostedZoneId: domain.hostedZone.id, zoneName: domain.hostedZone.name })
      : undefined;
    let certificate: acm.ICertificate;
    if (domain.certificateArn) {
      certificate = acm.Certificate.fromCertificateArn(this, 'Certificate', domain.certificateArn);
    } else if (zone) {
      certificate = new acm.Certificate(this, 'Certificate', {
        domainName: domain.domainName,
        validation: acm.CertificateValidation.fromDns(zone),
      });
    } else {
      throw new Error(`HttpGateway: the custom domain ${domain.domainName} needs a certificateArn or a hostedZone to validate a new certificate in.`);
    }
    const domainName = new apigwv2.DomainName(this, 'DomainName', {
      domainName: domain.domainName,
      certificate,
      endpointType: apigwv2.EndpointType.REGIONAL,
      securityPolicy: apigwv2.SecurityPolicy.TLS_1_2,
    });
    new apigwv2.ApiMapping(this, 'ApiMapping', { api: this.api, domainName, stage: this.stage });
    if (zone) {
      new route53.ARecord(this, 'AliasRecord', {
        zone,
        recordName: domain.domainName,
        target: route53.RecordTarget.fromAlias(new route53targets.ApiGatewayv2DomainProperties(domainName.regionalDomainName, domainName.regionalHostedZoneId)),
      });
    }
    return domainName;
  }

  /**
   * Every route of the API with its target (`integrations/<id>`: each a VPC-link integration to the front door): the
   * `$default` route, `/{proxy+}`, and the IAM and JWT routes when there are. The sleep function points them at its
   * starting integration while the service runs no task, and back at these targets (docs/guides/sleep.md).
   */
  get routeTargets(): Array<{ readonly routeId: string; readonly target: string }> {
    return this.api.node.findAll()
      .filter((c): c is apigwv2.CfnRoute => c instanceof apigwv2.CfnRoute)
      .map((route) => ({ routeId: route.ref, target: route.target! }));
  }

  /** Whether the IAM route exists. */
  get hasIamRoute(): boolean {
    return this.iamRoute !== undefined;
  }

  /** The IAM route's tracking URI, for SigV4 clients. Throws when there is no IAM route. */
  get iamTrackingUri(): string {
    this.requireIamRoute();
    return `${this.trackingUri}${IAM_ROUTE_PREFIX}`;
  }

  /** What `execute-api:Invoke` must be granted on to use the IAM route (every method and path under it, this stage). */
  get iamInvokeArn(): string {
    this.requireIamRoute();
    return this.api.arnForExecuteApi('*', `${IAM_ROUTE_PREFIX}/*`, this.stage.stageName);
  }

  private iamRoute?: apigwv2.HttpRoute;

  private requireIamRoute(): void {
    if (!this.iamRoute) throw new Error('This gateway has no IAM route (no iamRouteToken).');
  }

  /**
   * The IAM route: SigV4-signed requests under `/iam/`, checked by the IAM authorizer, reach the front door without
   * the prefix, with the caller's ARN and the gateway token in headers set here (a client's own are overwritten).
   */
  private addIamRoute(frontDoor: IMlflowFrontDoor, token: SecretValue): void {
    const integration = frontDoor.vpcLinkIntegration('MlflowIam', this.vpcLink, new apigwv2.ParameterMapping()
      .overwritePath(apigwv2.MappingValue.custom('/$request.path.proxy'))
      .overwriteHeader(GATEWAY_HEADERS.principal, apigwv2.MappingValue.contextVariable('identity.userArn'))
      .overwriteHeader(GATEWAY_HEADERS.token, apigwv2.MappingValue.custom(token.unsafeUnwrap())));
    [this.iamRoute] = this.api.addRoutes({
      path: `${IAM_ROUTE_PREFIX}/{proxy+}`,
      methods: [apigwv2.HttpMethod.ANY],
      integration,
      authorizer: new HttpIamAuthorizer(),
    });
  }

  /** The tracking URI clients use: `https://<custom domain>` when there is one, otherwise the stage URL without its trailing slash. */
  get trackingUri(): string {
    // The name as configured (not the resource's Ref): a plain string, so stacks that read it import nothing.
    if (this.customDomain) return `https://${this.customDomain.domainName}`;
    return `https://${this.api.apiId}.execute-api.${this.api.stack.region}.${this.api.stack.urlSuffix}`;
  }
}
