<?php
// A SOAP session peer for soapsess's example dialects, written on PHP's own
// SoapServer (non-WSDL mode): an independent SOAP stack, not soapsess code.
// Run: php -S 127.0.0.1:PORT session.php   (add ?v=12 to the URL for SOAP 1.2)
// Sessions live in a JSON file: $SOAPSESS_PEER_STORE, else a temp file.
$store = getenv('SOAPSESS_PEER_STORE') ?: (sys_get_temp_dir() . '/soapsess-php-peer.json');

function load_sessions() {
    global $store;
    return file_exists($store) ? (json_decode(file_get_contents($store), true) ?: []) : [];
}
function save_sessions($s) {
    global $store;
    file_put_contents($store, json_encode($s), LOCK_EX);
}

class Peer {
    private $sid = null;
    private $server;
    function __construct($server) { $this->server = $server; }

    // Header handlers: SoapServer calls the method named like a header element.
    // <SessionID xmlns="urn:demo-session">ID</SessionID>: the ID is the text.
    public function SessionID($v) { $this->sid = is_object($v) ? ($v->_ ?? null) : $v; }
    // <SessionHeader xmlns="urn:demo-login"><sessionId>ID</sessionId></SessionHeader>, Salesforce style.
    public function SessionHeader($v) { $this->sid = is_object($v) ? ($v->sessionId ?? null) : null; }

    // The "sessionid-header" example: BeginSession answers with a SessionID header.
    public function BeginSession($user = 'anon') {
        $s = load_sessions();
        $id = bin2hex(random_bytes(8));
        $s[$id] = ['user' => $user, 'calls' => 0];
        save_sessions($s);
        $this->server->addSoapHeader(new SoapHeader('urn:demo-session', 'SessionID', $id));
        return $id;
    }
    public function Whoami() { return $this->session()['user']; }
    public function EndSession() { $this->drop(); return 'ended'; }

    // The "login" example: the session ID comes back in the body of login.
    public function login($username, $password) {
        if ($password !== 'peer-secret') {
            throw new SoapFault('Client', 'INVALID_LOGIN: Invalid username, password, security token; or user locked out.');
        }
        $s = load_sessions();
        $id = bin2hex(random_bytes(12));
        $s[$id] = ['user' => $username, 'calls' => 0];
        save_sessions($s);
        return (object)['sessionId' => $id, 'userName' => $username];
    }
    public function getUserInfo() {
        $u = $this->session();
        return (object)['userName' => $u['user'], 'calls' => $u['calls']];
    }
    public function logout() { $this->drop(); return true; }

    private function session() {
        $s = load_sessions();
        if ($this->sid === null || !isset($s[$this->sid])) {
            throw new SoapFault('Client', 'INVALID_SESSION_ID: unknown or missing session', null, ['session' => (string)$this->sid]);
        }
        $s[$this->sid]['calls']++;
        save_sessions($s);
        return $s[$this->sid];
    }
    private function drop() {
        $this->session();
        $s = load_sessions();
        unset($s[$this->sid]);
        save_sessions($s);
    }
}

$version = (($_GET['v'] ?? '') === '12') ? SOAP_1_2 : SOAP_1_1;
$server = new SoapServer(null, ['uri' => 'urn:Demo', 'soap_version' => $version]);
$server->setObject(new Peer($server));
$server->handle();
