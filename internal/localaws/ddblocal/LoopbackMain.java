// LoopbackMain runs DynamoDB Local with its HTTP listener bound to 127.0.0.1
// only. DynamoDB Local has no bind-address flag and listens on all
// interfaces; this main builds the server exactly as DynamoDB Local's own
// main does, sets the host of each Jetty connector, then starts it.
//
// It takes DynamoDB Local's usual arguments (-inMemory, -port, ...).

import java.lang.reflect.Field;

import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public final class LoopbackMain {
    private static final String HOST = "127.0.0.1";

    private LoopbackMain() {}

    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        if (proxy == null) {
            throw new IllegalStateException("DynamoDB Local returned no server for these arguments");
        }
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        int bound = 0;
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector) {
                ((ServerConnector) connector).setHost(HOST);
                bound++;
            }
        }
        if (bound == 0) {
            throw new IllegalStateException("DynamoDB Local has no Jetty ServerConnector to bind to " + HOST);
        }
        proxy.start();
        proxy.join();
    }
}
